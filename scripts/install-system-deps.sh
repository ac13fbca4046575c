#!/usr/bin/env bash
# Debian packages the built-in speech engine needs (pocketsphinx, loaded in-process through koffi).
# --container-tools adds Debian's OCI tools, for building and running the image without a Docker
# daemon (scripts/image-build.sh, inference-image/test/image): buildah builds, podman (with runc)
# runs, mmdebstrap makes the stand-in base image, podman-compose runs compose.yaml.
set -euo pipefail
packages=(libpocketsphinx3 pocketsphinx-en-us)
container_tools=()
case "${1:-}" in
  "") ;;
  --container-tools) container_tools=(buildah podman runc mmdebstrap podman-compose) ;;
  *) echo "usage: $0 [--container-tools]" >&2; exit 2 ;;
esac
if dpkg -s "${packages[@]}" "${container_tools[@]}" >/dev/null 2>&1; then exit 0; fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
# With their recommends: published ports and compose's service names need iptables, netavark and
# aardvark-dns, which podman only recommends.
if [ ${#container_tools[@]} -gt 0 ]; then $sudo_cmd apt-get install -y -qq "${container_tools[@]}"; fi
