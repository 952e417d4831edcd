#!/usr/bin/env bash
# Load benchmark: our server vs the naive and floor baselines, each under the same load tool, for
# each client count, in one session (so the ratios hold on a noisy machine); and our server over
# TLS with HTTP/2 ("ours-h2"), its clients streams sharing connections as a browser's do. Prints
# the report; with --update also rewrites the generated section of BENCHMARKS.md.
#
# Usage: scripts/bench.sh [--quick] [--update] [--clients "1000 5000 10000 15000"]
#                         [--events 15] [--servers "ours ours-h2 naive floor"]
#                         [--h2-streams 100]
#   --quick   1000 clients only, 5 events (a minute; no target is judged)
#   --update  write the report into BENCHMARKS.md
#   --keep    keep the results file (its path is printed) instead of deleting it
#   --ours-args "..."  extra flags for our server (e.g. "--workers 1"), to compare settings
#   --repeat R  run every server R times at each load (interleaved); the report keeps, for each,
#               the run with the median p99 latency, so one burst of load from elsewhere on a
#               shared machine does not decide a row
#   --h2-streams S  streams per TLS connection for ours-h2 (N clients over N/S connections)
#
# Every server runs alone: start it, load it with `loadgen --pid`, stop it, next. Results go to
# a JSON-lines file that `bench-report` turns into the table.
set -euo pipefail
cd "$(dirname "$0")/.."

clients="1000 5000 10000 15000"
servers="ours ours-h2 naive floor"
events=15
interval_ms=1000
update=""
keep=""
ours_args=""
repeat=1
h2_streams=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) clients="1000"; events=5; shift ;;
    --update) update="--update BENCHMARKS.md"; shift ;;
    --keep) keep=1; shift ;;
    --clients) clients="$2"; shift 2 ;;
    --events) events="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --ours-args) ours_args="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --h2-streams) h2_streams="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cargo build --release -q -p server -p bench
bin=target/release
results=$(mktemp "${TMPDIR:-/tmp}/pingstream-bench.XXXXXX.jsonl")
# A self-signed certificate for ours-h2, trusted by the load tool (and nothing else); made only
# when ours-h2 is among the servers, as no other server speaks TLS.
tls=""
for name in $servers; do
  if [[ "$name" == ours-h2 ]]; then
    tls=$(mktemp -d "${TMPDIR:-/tmp}/pingstream-bench-tls.XXXXXX")
    "$bin/self-signed-cert" "$tls" >/dev/null
    break
  fi
done
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  if [[ -z "$keep" ]]; then rm -f "$results"; fi
  if [[ -n "$tls" ]]; then rm -rf "$tls"; fi
}
trap cleanup EXIT

# One port per server so a socket of the previous run lingering in TIME_WAIT never matters.
declare -A port=([ours]=18080 [naive]=18081 [floor]=18082 [ours-h2]=18083)
max=0
for n in $clients; do ((n > max)) && max=$n; done

start_server() {
  local name=$1 addr="127.0.0.1:${port[$1]}"
  case "$name" in
    ours | ours-h2)
      local tls_args=()
      [[ "$name" == ours-h2 ]] && tls_args=(--tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem")
      # shellcheck disable=SC2086 # $ours_args is a list of words, split on purpose
      RUST_LOG=error "$bin/server" --addr "$addr" --interval-ms "$interval_ms" \
        --max-clients $((max + 1000)) --static-dir /nonexistent "${tls_args[@]}" $ours_args >/dev/null &
      ;;
    naive) "$bin/naive-server" --addr "$addr" --interval-ms "$interval_ms" >/dev/null & ;;
    floor) "$bin/floor-server" --addr "$addr" --interval-ms "$interval_ms" >/dev/null & ;;
    *) echo "unknown server: $name" >&2; exit 2 ;;
  esac
  server_pid=$!
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for n in $clients; do
  for ((round = 1; round <= repeat; round++)); do for name in $servers; do
    echo "== $name, $n clients (run $round of $repeat)" >&2
    start_server "$name"
    # Let the server settle (and tick once) before the "before" RSS sample.
    sleep 1.5
    url="http://127.0.0.1:${port[$name]}/sse"
    h2_args=()
    if [[ "$name" == ours-h2 ]]; then
      url="https://127.0.0.1:${port[$name]}/sse"
      h2_args=(--ca "$tls/cert.pem" --connections $(((n + h2_streams - 1) / h2_streams)))
    fi
    "$bin/loadgen" --url "$url" "${h2_args[@]}" --clients "$n" \
      --events "$events" --interval-ms "$interval_ms" --pid "$server_pid" --label "$name" \
      --out "$results" >/dev/null ||
      echo "loadgen failed for $name at $n clients" >&2
    stop_server
    # Let the loopback sockets of this run wind down before the next one.
    sleep 1
  done; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
[[ -n "$keep" ]] && echo "results: $results" >&2
# shellcheck disable=SC2086 # $update is two words (or none), split on purpose
"$bin/bench-report" "$results" $update
