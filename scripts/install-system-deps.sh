#!/usr/bin/env bash
# Debian packages the built-in speech engine needs (pocketsphinx, loaded in-process through koffi), and ffmpeg:
# the server's AAC (m4a uploads, aac speech) and WebM/Vorbis codec, and the tests' maker and checker of audio files.
# espeak-ng-data: the phoneme data the tests' tiny Kokoro model is given (sherpa-onnx's Kokoro needs one); bzip2: what
# tar needs to unpack sherpa-onnx's .tar.bz2 model archives (the model import command and its tests).
# prometheus (with promtool): the monitoring tests check and unit-test the alert rules and run a real Prometheus
# against the server (test/monitoring); its packaged service is not needed and may stay stopped.
# openssl: the TLS tests and the scheduled-scaling test's stand-in Kubernetes API make their certificates with it.
# --container-tools adds Debian's OCI tools, for building and running the image without a Docker
# daemon (scripts/image-build.sh, inference-image/test/image): buildah builds, podman (with runc)
# runs, mmdebstrap makes the stand-in base image and the AWS emulator's Debian trixie root filesystem
# (scripts/emulator/rootfs.sh; debian-archive-keyring brought up to date: it carries trixie's signing
# keys), podman-compose runs compose.yaml.
set -euo pipefail
packages=(libpocketsphinx3 pocketsphinx-en-us ffmpeg espeak-ng-data bzip2 prometheus openssl)
container_tools=()
case "${1:-}" in
  "") ;;
  --container-tools) container_tools=(buildah podman runc mmdebstrap debian-archive-keyring podman-compose) ;;
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
