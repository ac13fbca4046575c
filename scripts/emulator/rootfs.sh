#!/usr/bin/env bash
# The AWS emulator's root filesystem: Debian trixie with moto (python3-moto, 5.1; bookworm has none)
# and the Flask packages moto_server needs, made once by mmdebstrap and kept in a cache outside the
# repository, named by the hash of its inputs, so a changed input makes a new one.
#   scripts/emulator/rootfs.sh          prints its path, making it first when missing (about 350 MB)
#   scripts/emulator/rootfs.sh --path   prints its path only if it exists (exit 1 otherwise), builds nothing
# Env: VOICE_SELFHOST_CACHE (default ~/.cache/voice-selfhost), EMULATOR_DEBIAN_MIRROR.
# mmdebstrap runs as root here (CI and this kind of machine); as another user it uses its unshare mode.
set -euo pipefail

suite=trixie
packages=python3-moto,python3-flask,python3-flask-cors
# mmdebstrap's own choice of Debian mirror unless EMULATOR_DEBIAN_MIRROR names one.
mirror="${EMULATOR_DEBIAN_MIRROR:-}"
cache="${VOICE_SELFHOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voice-selfhost}"
key="$(printf 'recipe 1\n%s\n%s\n%s\n' "$suite" "$packages" "$mirror" | sha256sum | cut -c1-16)"
root="$cache/emulator-rootfs-$key"

case "${1:-}" in
  "") ;;
  --path) [ -x "$root/usr/bin/moto_server" ] && { echo "$root"; exit 0; }; echo "no emulator root filesystem at $root: run $0" >&2; exit 1 ;;
  *) echo "usage: $0 [--path]" >&2; exit 2 ;;
esac

if [ -x "$root/usr/bin/moto_server" ]; then echo "$root"; exit 0; fi
mkdir -p "$cache"
partial="$root.partial-$$"
trap 'rm -rf "$partial"' EXIT
echo "[emulator] making $root (Debian $suite: $packages)" >&2
# As a slim image: no docs, man pages or locales, no package cache.
mmdebstrap --quiet --variant=minbase --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --aptopt='Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  "$suite" "$partial" ${mirror:+"$mirror"} >&2
# Another run may have finished first: its copy is as good as this one.
mv -T "$partial" "$root" 2>/dev/null || [ -x "$root/usr/bin/moto_server" ]
echo "$root"
