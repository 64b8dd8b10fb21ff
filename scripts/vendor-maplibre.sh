#!/usr/bin/env bash
# Refreshes the vendored MapLibre GL JS in web/ui/vendor/maplibre-gl from the
# npm registry, at the pinned version below (or the one given as $1), with its
# licence. The control room fetches nothing at run time: the map library is
# embedded in the binary with the rest of the UI.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-6.20.0}"
dest=web/ui/vendor/maplibre-gl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "maplibre-gl@$version" >/dev/null)
tar -xzf "$tmp"/maplibre-gl-"$version".tgz -C "$tmp"
mkdir -p "$dest"
# 6.x ships ES modules: the main module loads the worker module beside it.
rm -f "$dest"/*.mjs
cp "$tmp"/package/dist/maplibre-gl.mjs "$tmp"/package/dist/maplibre-gl-worker.mjs "$tmp"/package/dist/maplibre-gl.css "$dest"/
cp "$tmp"/package/LICENSE.txt "$dest"/LICENSE.txt
echo "$version" > "$dest"/VERSION
echo "maplibre-gl $version vendored in $dest"
