#!/usr/bin/env bash
# Builds the moda-agent container image from a release program (called by `make image`, and by the container tests):
#
#   packaging/container/build-image.sh PROGRAM TAG [TAG...]
#
# FROM scratch: one layer holding the stripped program (modactl a link to it), every shared library it and the
# health probe load as ldd finds them now (the link changes as libraries are added: nothing is listed by hand),
# the dynamic loader, the system's CA certificates (delivery is HTTPS), /etc/passwd and /etc/group with the
# moda-agent user (10001), the container config and the copyright file. Needs podman (or buildah's podman), a C
# compiler, strip and GNU tar; nothing is pulled from a registry. Prints the image's compressed size.
# Environment: IMAGE_SOURCE (org.opencontainers.image.source), SOURCE_DATE_EPOCH (timestamps; default: last commit),
# PODMAN (default podman).
set -euo pipefail

program=$(realpath "$1")
shift
[ $# -ge 1 ] || { echo "usage: $0 PROGRAM TAG [TAG...]" >&2; exit 2; }
tags=("$@")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
podman=${PODMAN:-podman}
uid=10001
version=$(sed -n 's/.*current = "\(.*\)".*/\1/p' "$repo/Sources/ModaAgentCore/Daemon/AgentVersion.swift")
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
homepage=https://moda-ingest.modas.workers.dev
source_url=${IMAGE_SOURCE:-$(git -C "$repo" remote get-url origin 2>/dev/null || true)}
certificates=/etc/ssl/certs/ca-certificates.crt
[ -f "$certificates" ] || { echo "$certificates missing: install Debian's ca-certificates" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{etc/moda-agent,etc/ssl/certs,usr/bin,usr/libexec/moda-agent,usr/share/doc/moda-agent,run,var/lib,tmp}

# As the Debian package does (packaging/deb/build.sh): symbol tables serve only a debugger.
cp "$program" "$root/usr/bin/moda-agent"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/moda-agent"
ln -s moda-agent "$root/usr/bin/modactl"
compiler=${CC:-$(command -v cc || command -v gcc || command -v clang)}
"$compiler" -O2 -s -Wall -Werror -o "$root/usr/libexec/moda-agent/health-probe" "$here/health-probe.c"

# Each library at the path ldd resolves it to, under /usr (Debian's merged /usr: /lib and /lib64 are links), so the
# loader finds it in its default directories without an ld.so.cache.
libraries() {
    ldd "$1" | awk -v binary="$1" '
        /not found/ { print "missing library for " binary ": " $0 > "/dev/stderr"; failed = 1 }
        $2 == "=>" && $3 ~ /^\// { print $3 }
        $1 ~ /^\// { print $1 }
        END { exit failed }'
}
for binary in "$root/usr/bin/moda-agent" "$root/usr/libexec/moda-agent/health-probe"; do
    libraries "$binary"
done | sort -u | while read -r library; do
    inside=/usr${library#/usr}
    mkdir -p "$root$(dirname "$inside")"
    cp -L "$library" "$root$inside"
done
for top in lib lib32 lib64 libx32; do
    [ -d "$root/usr/$top" ] && ln -s "usr/$top" "$root/$top"
done

cp "$certificates" "$root/etc/ssl/certs/ca-certificates.crt"
cp "$here/config.json" "$root/etc/moda-agent/config.json"
cp "$repo/packaging/deb/copyright" "$root/usr/share/doc/moda-agent/copyright"
printf 'root:x:0:0:root:/root:/sbin/nologin\nmoda-agent:x:%s:%s:moda-agent forwarder:/var/lib/moda-agent:/sbin/nologin\n' \
    "$uid" "$uid" > "$root/etc/passwd"
printf 'root:x:0:\nmoda-agent:x:%s:\n' "$uid" > "$root/etc/group"
chmod -R u=rwX,go=rX "$root"
chmod 1777 "$root/tmp"

# The daemon's folders belong to its user, so that a fresh named volume mounted there (podman and docker copy the
# image's folder into it) is writable; the socket's folder is open to the application containers sharing it.
state=$work/state
mkdir -p "$state/run/moda-agent" "$state/var/lib/moda-agent"
chmod 0755 "$state/run/moda-agent"
chmod 0700 "$state/var/lib/moda-agent"
tar_options=(--numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --sort=name --format=gnu)
tar -cf "$work/rootfs.tar" "${tar_options[@]}" --owner=0 --group=0 -C "$root" .
tar -rf "$work/rootfs.tar" "${tar_options[@]}" --owner="$uid" --group="$uid" --no-recursion -C "$state" \
    ./run/moda-agent ./var/lib/moda-agent
cp "$here/Containerfile" "$work/Containerfile"

tag_options=()
for tag in "${tags[@]}"; do tag_options+=(--tag "$tag"); done
# Where the source lives, when known (a clone's origin, or IMAGE_SOURCE); the product's home page otherwise.
if [ -n "$source_url" ]; then
    tag_options+=(--label "org.opencontainers.image.documentation=${source_url%.git}/blob/main/docs/containers.md")
fi
# docker format: the OCI image config has no HEALTHCHECK, and podman drops it there.
"$podman" build --quiet --format docker --timestamp "$SOURCE_DATE_EPOCH" "${tag_options[@]}" \
    --label org.opencontainers.image.title=moda-agent \
    --label "org.opencontainers.image.description=Durable local forwarding agent for the Moda ingest API" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
    --label "org.opencontainers.image.source=${source_url:-$homepage}" \
    --label "org.opencontainers.image.url=$homepage" \
    --label "org.opencontainers.image.licenses=LicenseRef-moda-agent-no-license-granted" \
    --label "org.opencontainers.image.vendor=moda-agent maintainers" \
    --label "org.opencontainers.image.base.name=scratch" \
    -f "$work/Containerfile" "$work" >/dev/null

"$here/image-size.sh" "${tags[0]}"
