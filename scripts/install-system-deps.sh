#!/usr/bin/env bash
# Debian packages the built-in speech engine needs (pocketsphinx, loaded in-process through koffi), and ffmpeg:
# the server's AAC (m4a uploads, aac speech) and WebM/Vorbis codec, and the tests' maker and checker of audio files.
set -euo pipefail
packages=(libpocketsphinx3 pocketsphinx-en-us ffmpeg)
if dpkg -s "${packages[@]}" >/dev/null 2>&1; then exit 0; fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
