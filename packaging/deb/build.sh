#!/usr/bin/env bash
# Turns a tree staged by `make install-files` into the Debian package (called by `make deb`):
#
#   packaging/deb/build.sh STAGE VERSION OUTDIR
#
# Adds what a Debian package carries beside the programs (copyright, changelog, the sysusers.d entry, lintian
# overrides, maintainer scripts), computes Depends: from the binaries and writes OUTDIR/moda-agent_VERSION_ARCH.deb.
set -euo pipefail

stage=$(realpath "$1")
version=$2
outdir=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
# modactl is a symbolic link to moda-agent (one binary, two names).
binaries=("$stage/usr/bin/moda-agent")
[ -L "$stage/usr/bin/modactl" ] || { echo "$stage/usr/bin/modactl is not a link to moda-agent" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}

# As dh_strip does: the symbol tables only serve a debugger; the package is a third of the size without them.
for binary in "${binaries[@]}"; do
    strip --remove-section=.comment --remove-section=.note --strip-unneeded "$binary"
done

doc="$stage/usr/share/doc/moda-agent"
install -d -m 0755 "$doc"
install -m 0644 "$here/copyright" "$doc/copyright"
{
    echo "moda-agent ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the moda-agent repository; its history is the change log."
    echo
    echo " -- moda-agent maintainers <maintainers@users.noreply.r-seed-ee305a42.example>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -D -m 0644 "$here/sysusers.conf" "$stage/usr/lib/sysusers.d/moda-agent.conf"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/moda-agent"

# What the binaries load at run time, from the shared libraries' symbols files (as dpkg-shlibdeps runs under
# debhelper), so the versions are the lowest that work. dpkg-shlibdeps wants a source tree around it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/debian"
printf 'Source: moda-agent\n\nPackage: moda-agent\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "${binaries[@]/#/-e}" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# Vectorscan (redaction's operator patterns) is linked in statically (packaging/link/ld.lld-as-needed):
# the package must not depend on libvectorscan5, and the program must not load libhs.so.5.
case "$depends" in
*libvectorscan5*) echo "the program loads libhs.so.5; the release link should take libhs.a: $depends" >&2; exit 1 ;;
esac
# libsystemd is loaded with dlopen where the daemon runs under systemd (Sources/CSystemd), so it is no NEEDED
# entry dpkg-shlibdeps could see; the package names it. 227: sd_listen_fds_with_names, the newest call used.
case "$depends" in
*libsystemd0*) ;;
*) depends="$depends, libsystemd0 (>= 227)" ;;
esac
# Packed relative relocations (DT_RELR, `make build` links with them) need glibc 2.36: an older loader would
# skip them and the program would crash at start. The linker records no symbol version saying so, so
# dpkg-shlibdeps cannot know; the package says it.
if readelf -d "${binaries[0]}" | grep -q '(RELR)'; then
    depends=$(echo "$depends" | sed -E 's/libc6 \(>= 2\.(2[0-9]|3[0-5])(\.[0-9]+)?\)/libc6 (>= 2.36)/')
    case "$depends" in *"libc6 (>= 2.3"[6-9]*|*"libc6 (>= 2.[4-9]"*) ;; *) echo "no libc6 (>= 2.36) in: $depends" >&2; exit 1;; esac
fi

installed_size=$(du -s -k --apparent-size "$stage" | cut -f1)
install -d -m 0755 "$stage/DEBIAN"
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$installed_size|" \
    -e "s|@DEPENDS@|$depends|" "$here/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find etc -type f -printf '/%p\n' | sort) > "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$outdir"
package="$outdir/moda-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$package" >/dev/null
echo "built $package: $(du -k --apparent-size "$package" | cut -f1) KiB, installed size $installed_size KiB"
echo "Depends: $depends"
