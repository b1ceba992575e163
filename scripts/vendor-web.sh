#!/usr/bin/env bash
# Refresh the console's vendored browser libraries from the npm registry: the released files of each pinned
# package, with its licence, into api/web/vendor/. No build step and no CDN: the console works offline.
#   Leaflet  - maps (small, plain script, any XYZ tile template or none; a GeoJSON layer for offline bases)
#   uPlot    - time-series charts (tens of kB, fast with thousands of points, draw hooks for the limit band)
#   @noble/ed25519, @noble/hashes - Ed25519 and SHA-256/512 in plain JS (audited, no dependencies): WebCrypto
#                    exists only in secure contexts (HTTPS or localhost), and a bureau's LAN address is neither
# Usage: scripts/vendor-web.sh   (bump a version below, run, commit api/web/vendor/)
set -euo pipefail
PACKAGES=("leaflet@1.9.4" "uplot@1.6.32" "@noble/ed25519@3.2.0" "@noble/hashes@2.4.0")
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/api/web/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT" && mkdir -p "$OUT"
: > "$TMP/versions"
for spec in "${PACKAGES[@]}"; do
  (cd "$TMP" && npm pack --silent "$spec" > /dev/null)
done
for tgz in "$TMP"/*.tgz; do
  dir="$TMP/$(basename "$tgz" .tgz)"
  mkdir -p "$dir" && tar xzf "$tgz" -C "$dir"
done
copy() {  # copy <package dir name> <dest> <files...>
  local src="$TMP/$1/package" dest="$OUT/$2"; shift 2
  mkdir -p "$dest"
  for f in "$@"; do cp -r "$src/$f" "$dest/"; done
  cp "$src/LICENSE" "$dest/LICENSE"
  printf '%s %s %s\n' "$(basename "$dest")" "$(node -p "require('$src/package.json').version")" \
    "$(sha256sum "$TMP/$(basename "$(dirname "$src")").tgz" | cut -c1-64)" >> "$TMP/versions"
}
copy leaflet-1.9.4 leaflet dist/leaflet.js dist/leaflet.css dist/images
copy uplot-1.6.32 uplot dist/uPlot.iife.min.js dist/uPlot.min.css
copy noble-ed25519-3.2.0 noble-ed25519 index.js
copy noble-hashes-2.4.0 noble-hashes sha2.js _md.js _u64.js utils.js
{ echo "# name version sha256-of-npm-tarball (scripts/vendor-web.sh)"; cat "$TMP/versions"; } > "$OUT/VERSIONS.txt"
echo "vendored into $OUT:"; cat "$OUT/VERSIONS.txt"
