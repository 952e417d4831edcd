#!/usr/bin/env bash
# Installs what pingstream's recipes need and is missing; does nothing for what is there already.
# Usage: scripts/setup.sh [all|build|browser|redis]
#   build    the wasm target, trunk, wasm-bindgen-cli (the version Cargo.lock pins), wasm-opt,
#            esbuild
#   browser  build + Chromium and ChromeDriver for the browser tests
#   redis    only redis-server, for the scale-out tests and `just cluster`
#   all      browser + redis
set -euo pipefail

want=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${PINGSTREAM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pingstream/tools}
trunk_version=0.21.14
binaryen_version=${PINGSTREAM_BINARYEN_VERSION:-132}
esbuild_version=0.28.2

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages, as root or through sudo.
apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# The Redis tests start their own redis-server on a free port; Debian's package also starts a
# system daemon on :6379 where there is an init system, which nothing here uses.
if [ "$want" = all ] || [ "$want" = redis ]; then
  if ! command -v redis-server >/dev/null; then
    say "installing redis-server from Debian"
    apt_install redis-server
  fi
  if [ "$want" = redis ]; then exit 0; fi
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-opt and esbuild (which minifies wasm-bindgen's JS: scripts/minify-js.sh) come from npm,
# which mostly waits on the network: it runs beside the compiles below.
npm_pid=""
if ! "$tools/node_modules/.bin/wasm-opt" --version >/dev/null 2>&1 ||
  [ "$("$tools/node_modules/.bin/esbuild" --version 2>/dev/null)" != "$esbuild_version" ]; then
  say "installing wasm-opt (npm binaryen@$binaryen_version) and esbuild $esbuild_version into $tools"
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    "binaryen@$binaryen_version" "esbuild@$esbuild_version" &
  npm_pid=$!
fi

# trunk only drives cargo, wasm-bindgen, wasm-opt and esbuild: a debug build of it (without
# debug info, and without its default features: the check for a newer trunk and TLS, which
# `trunk serve` here does not use) does the same work as fast (a release page build in 11 s
# either way, the same bytes) and compiles in 2.5 minutes on 2 cores, where its own release
# profile (fat LTO, one codegen unit) took about 15 and an optimised build without LTO 6
# (2026-12-07).
if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$trunk_version" ]; then
  say "installing trunk $trunk_version (a few minutes, once)"
  CARGO_PROFILE_DEV_DEBUG=false \
    cargo install --debug --no-default-features --locked "trunk@$trunk_version"
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly, or trunk and the
# test runner refuse the build (and try to download one, which fails offline).
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")
if [ -z "$bindgen_version" ]; then
  echo "wasm-bindgen is not in Cargo.lock; run cargo generate-lockfile" >&2
  exit 1
fi
# A debug build too (without debug info), but for the crates that parse and rewrite wasm
# (walrus, wasmparser, wasm-bindgen-cli-support), optimised at level 1: it compiles in about a
# minute where the release build takes two, writes the same bytes, and the browser tests run as
# fast (28 s either way; 37 s with a plain debug build, which rewrites each test binary about
# 1.5 s slower) (2026-12-08).
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (a minute, once)"
  # Not --locked: its lock file names a crate version the registry no longer has.
  CARGO_PROFILE_DEV_DEBUG=false cargo install --debug --force \
    --config 'profile.dev.package.walrus.opt-level=1' \
    --config 'profile.dev.package.wasmparser.opt-level=1' \
    --config 'profile.dev.package.wasm-bindgen-cli-support.opt-level=1' \
    "wasm-bindgen-cli@$bindgen_version"
fi

# Debian's binaryen is too old for this rustc's wasm; npm's package ships a current wasm-opt
# (started above).
if [ -n "$npm_pid" ]; then
  wait "$npm_pid"
fi

if [ "$want" != build ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing Chromium and ChromeDriver from Debian"
    apt_install chromium chromium-driver
  fi
fi
