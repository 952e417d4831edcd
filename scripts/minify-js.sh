#!/usr/bin/env bash
# trunk's post-build hook (Trunk.toml): minifies wasm-bindgen's JS glue in a release build, which
# trunk's own minifier gives up on ("Failed to minify JS") and leaves as written. It is 6.4 KB of
# the page on the wire with brotli as written, 4.8 KB minified by esbuild (README "Page weight").
# The file's integrity hash in index.html is recomputed, so the browser's check still holds.
# Debug builds (`just dev`) are left alone.
set -euo pipefail

[ "${TRUNK_PROFILE:-}" = release ] || exit 0
staging=${TRUNK_STAGING_DIR:?trunk sets TRUNK_STAGING_DIR}
if ! command -v esbuild >/dev/null; then
  echo "scripts/minify-js.sh: esbuild is missing (npm package, installed by just setup)" >&2
  exit 1
fi

integrity() {
  echo "sha384-$(openssl dgst -sha384 -binary "$1" | openssl base64 -A)"
}

for js in "$staging"/*.js; do
  before=$(integrity "$js")
  esbuild "$js" --minify --format=esm --log-level=warning --outfile="$js.min"
  mv "$js.min" "$js"
  after=$(integrity "$js")
  # A base64 hash holds no `|`; index.html names each asset's hash once.
  grep -qF "$before" "$staging/index.html" || {
    echo "scripts/minify-js.sh: index.html names no integrity $before for $js" >&2
    exit 1
  }
  sed -i "s|$before|$after|" "$staging/index.html"
done
