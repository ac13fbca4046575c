#!/usr/bin/env bash
# Debian packages the built-in speech engine needs (pocketsphinx, loaded in-process through koffi).
set -euo pipefail
packages=(libpocketsphinx3 pocketsphinx-en-us)
if dpkg -s "${packages[@]}" >/dev/null 2>&1; then exit 0; fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
