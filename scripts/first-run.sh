#!/usr/bin/env bash
# Times a newcomer's first `just run` and first `just test` (README, Quick start) as on a fresh
# machine: a clone of this checkout's HEAD in an empty HOME, with an empty CARGO_HOME (crates
# downloaded again), tool cache and npm cache. What the README asks a newcomer to install first
# is taken from this machine: rustup's toolchain (with the wasm target), `just`, `npm`, and the
# Debian packages (Chromium, ChromeDriver, redis-server), whose download this cannot time.
# Usage: scripts/first-run.sh [DIR]   (DIR, default /tmp/pingstream-first-run, is emptied first)
# `just run` counts until the server says it listens (then it is stopped), with the time of each of
# its steps (from the files they write last); `just test` follows.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/tmp/pingstream-first-run}
rm -rf "$dir"
mkdir -p "$dir/home" "$dir/bin"
for tool in just rustup cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
  ln -s "$(command -v "$tool")" "$dir/bin/$tool"
done
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export HOME=$dir/home CARGO_HOME=$dir/home/.cargo
export PATH=$dir/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset CARGO_TARGET_DIR PINGSTREAM_TOOLS XDG_CACHE_HOME
git clone -q "$root" "$dir/pingstream"
cd "$dir/pingstream" || exit 1
echo "commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

start=$(date +%s)
setsid just run > "$dir/run.log" 2>&1 &
run=$!
until grep -q 'listening' "$dir/run.log"; do
  if ! kill -0 "$run" 2>/dev/null; then
    echo "just run stopped before the server listened:"
    tail -20 "$dir/run.log"
    exit 1
  fi
  sleep 1
done
echo "first just run: $(($(date +%s) - start)) s until the server listens"
# Each step ends when it writes its last file: the step's time is from the one before.
previous=$start
for step in "trunk:$HOME/.cargo/bin/trunk" "wasm-bindgen-cli:$HOME/.cargo/bin/wasm-bindgen" \
  "the page:dist/index.html" "the release server:target/release/server"; do
  done_at=$(stat -c %Y "${step#*:}" 2>/dev/null) || continue
  echo "  ${step%%:*}: $((done_at - previous)) s"
  previous=$done_at
done
kill -INT -- -"$run" 2>/dev/null
sleep 2
kill -- -"$run" 2>/dev/null

start=$(date +%s)
just test > "$dir/test.log" 2>&1
status=$?
echo "first just test after it: $(($(date +%s) - start)) s, exit status $status (log: $dir/test.log)"
exit "$status"
