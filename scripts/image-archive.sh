#!/usr/bin/env bash
# Carries the image(s), and optionally a model folder, across an air gap as one archive.
#   scripts/image-archive.sh save ARCHIVE [--models DIR] [IMAGE...]   (default image: localhost/voice-selfhost/inference:dev)
#   scripts/image-archive.sh load ARCHIVE [--models DEST]
# The archive is a tar holding images.tar (every image, as `podman save -m` writes them), models/,
# images.txt (image ID and name of each) and SHA256SUMS over every file. `load` checks every checksum
# before it imports anything, then checks that each image has the ID it had when saved. images.tar is a
# docker-archive, not an OCI layout: the OCI image config has no HEALTHCHECK, so converting drops the
# image's health check and changes its ID.
set -euo pipefail

usage() { echo "usage: $0 save ARCHIVE [--models DIR] [IMAGE...] | load ARCHIVE [--models DEST]" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1 archive=$2
shift 2
models=""
images=()
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift ;;
    -*) usage ;;
    *) images+=("$1") ;;
  esac
  shift
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

case "$command" in
  save)
    [ ${#images[@]} -gt 0 ] || images=(localhost/voice-selfhost/inference:dev)
    mkdir -p "$work/bundle"
    for image in "${images[@]}"; do
      printf '%s %s\n' "$(podman image inspect --format '{{.Id}}' "$image")" "$image" >>"$work/bundle/images.txt"
    done
    podman save --quiet --multi-image-archive --format docker-archive -o "$work/bundle/images.tar" "${images[@]}"
    if [ -n "$models" ]; then cp -a "$models" "$work/bundle/models"; fi
    (cd "$work/bundle" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
    tar -cf "$archive" -C "$work/bundle" .
    echo "wrote $archive ($(du -h "$archive" | cut -f1)): ${images[*]}${models:+ and models from $models}"
    ;;
  load)
    tar -xf "$archive" -C "$work"
    if [ -d "$work/models" ] && [ -z "$models" ]; then echo "the archive holds models/: pass --models DEST to install them" >&2; exit 2; fi
    (cd "$work" && sha256sum --check --quiet --strict SHA256SUMS) || { echo "$archive: checksum mismatch, nothing imported" >&2; exit 1; }
    # Every file on disk must be listed: nothing added to the archive after it was made.
    listed="$(wc -l <"$work/SHA256SUMS")"
    present="$(find "$work" -type f ! -name SHA256SUMS | wc -l)"
    [ "$listed" -eq "$present" ] || { echo "$archive: $present files but $listed checksums, nothing imported" >&2; exit 1; }
    podman load --quiet -i "$work/images.tar" >/dev/null
    while read -r id image; do
      got="$(podman image inspect --format '{{.Id}}' "$image")"
      [ "$got" = "$id" ] || { echo "$image: loaded image ID $got, expected $id" >&2; exit 1; }
      echo "loaded $image ($id)"
    done <"$work/images.txt"
    if [ -d "$work/models" ]; then
      mkdir -p "$models" && cp -a "$work/models/." "$models/"
      echo "models in $models"
    fi
    ;;
  *) usage ;;
esac
