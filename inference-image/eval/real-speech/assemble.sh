#!/usr/bin/env bash
# Rebuilds clips/ from the Debian and npm packages that manifest.json names, each checked against its
# sha256 first: a wideband FLAC (16 kHz) and an 8 kHz mu-law WAV per clip. The Asterisk prompts have an
# 8 kHz recording of their own (the -wav package); the other clips' telephony copy is their wideband audio
# resampled by ffmpeg. `--check` rebuilds into a scratch folder and compares with the committed clips.
# Needs: apt-get (Debian bookworm's lists), npm, ffmpeg, node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/clips"
check=false
[ "${1:-}" = "--check" ] && check=true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
$check && out="$work/clips"

# One line per package: source kind name version sha256
node -e '
  const m = require(process.argv[1]);
  for (const [source, s] of Object.entries(m.sources)) for (const p of s.packages) console.log([source, s.kind, p.name, p.version, p.sha256].join(" "));
' "$here/manifest.json" > "$work/packages"

while read -r source kind name version sha; do
  mkdir -p "$work/dl" "$work/src/$source"
  if [ "$kind" = debian ]; then
    file="$(cd "$work/dl" && apt-get download "$name=$version" >/dev/null 2>&1 && ls -1 "${name}_"*.deb)"
  else
    file="$(npm pack "$name@$version" --silent --pack-destination "$work/dl")"
  fi
  echo "$sha  $work/dl/$file" | sha256sum --check --quiet || { echo "assemble.sh: $name $version does not match the sha256 in manifest.json" >&2; exit 1; }
  if [ "$kind" = debian ]; then dpkg-deb -x "$work/dl/$file" "$work/src/$source/$name"; else tar xzf "$work/dl/$file" -C "$work/src/$source"; fi
done < "$work/packages"

# One line per clip: id wideband-input telephony-input (or -)
node -e '
  const m = require(process.argv[1]);
  const dir = (source, band) => { const s = m.sources[source]; const p = s.packages.find((x) => x.band === band) ?? s.packages[0]; return s.kind === "debian" ? `${p.name}/${p.dir}` : p.dir; };
  for (const c of m.clips) console.log([c.id, `${c.source}/${dir(c.source, "wideband")}/${c.wideband}`, c.telephony ? `${c.source}/${dir(c.source, "telephony")}/${c.telephony}` : "-"].join(" "));
' "$here/manifest.json" > "$work/clip-list"

ff() { ffmpeg -nostdin -loglevel error -y "$@"; }
while read -r id wide tel; do
  mkdir -p "$(dirname "$out/$id")"
  input=(-i "$work/src/$wide")
  # The pocketsphinx test's raw file is headerless 16 kHz PCM.
  [[ "$wide" == *.raw ]] && input=(-f s16le -ar 16000 -ac 1 -i "$work/src/$wide")
  ff "${input[@]}" -map_metadata -1 -fflags +bitexact -ac 1 -ar 16000 -sample_fmt s16 -c:a flac "$out/$id.flac"
  if [ "$tel" != - ]; then
    ff -i "$work/src/$tel" -map_metadata -1 -fflags +bitexact -flags +bitexact -ac 1 -ar 8000 -c:a pcm_mulaw "$out/$id.mulaw.wav"
  else
    ff "${input[@]}" -map_metadata -1 -fflags +bitexact -flags +bitexact -ac 1 -ar 8000 -c:a pcm_mulaw "$out/$id.mulaw.wav"
  fi
done < "$work/clip-list"

(cd "$out" && find . -type f \( -name '*.flac' -o -name '*.wav' \) | sort | xargs sha256sum) > "$work/SHA256SUMS"
if $check; then
  diff -u "$here/clips/SHA256SUMS" "$work/SHA256SUMS" && echo "assemble.sh: the committed clips match the packages"
else
  cp "$work/SHA256SUMS" "$out/SHA256SUMS"
  echo "assemble.sh: $(wc -l < "$out/SHA256SUMS") files in $out"
fi
