#!/usr/bin/env bash
# Prints an image's size as a registry would store it: the image pushed to an OCI layout with gzip-compressed layers,
# the sizes of its manifest, config and layer blobs summed; and the unpacked size podman image inspect reports.
#
#   packaging/container/image-size.sh IMAGE
#   -> image moda-agent:0.1.0: 14523904 bytes compressed (13.9 MiB), 41234432 bytes unpacked
set -euo pipefail
image=$1
podman=${PODMAN:-podman}
layout=$(mktemp -d)
trap 'rm -rf "$layout"' EXIT
"$podman" push --quiet --compression-format gzip "$image" "oci:$layout:latest" >/dev/null
compressed=$(find "$layout/blobs" -type f -printf '%s\n' | awk '{ total += $1 } END { print total }')
unpacked=$("$podman" image inspect --format '{{.Size}}' "$image")
awk -v image="$image" -v c="$compressed" -v u="$unpacked" \
    'BEGIN { printf "image %s: %d bytes compressed (%.1f MiB), %d bytes unpacked\n", image, c, c / 1048576, u }'
