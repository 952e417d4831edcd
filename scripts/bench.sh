#!/usr/bin/env bash
# Load benchmark: our server vs the naive and floor baselines, each under the same load tool, for
# each client count, in one session (so the ratios hold on a noisy machine); and our server over
# TLS with HTTP/2 ("ours-h2"), its clients streams sharing connections as a browser's do; and,
# with private topics, ours with some or all clients holding subscriber tokens ("ours-private",
# "ours-auth"). Prints the report; with --update also rewrites the generated section of
# BENCHMARKS.md.
#
# Usage: scripts/bench.sh [--quick] [--update] [--clients "1000 5000 10000 15000"]
#                         [--events 15] [--servers "ours ours-h2 naive floor"]
#                         [--h2-streams 100] [--server NAME=PATH] [--notices K]
#                         [--notice-rate 100] [--topics per-client|pattern]
#                         [--private] [--private-fraction 0.1]
#   --quick   1000 clients only, 5 events (a minute; no target is judged)
#   --update  write the report into BENCHMARKS.md
#   --keep    keep the results file (its path is printed) instead of deleting it
#   --ours-args "..."  extra flags for our server (e.g. "--workers 1"), to compare settings
#   --repeat R  run the whole session R times, round after round (each round runs every load
#               and every server once, so a drift in the machine's speed spreads over all of
#               them); the report keeps, for each server and load, the run with the median p99
#               latency, so one burst of load from elsewhere on a shared machine does not decide
#               a row; and it prints each round's ratios to the floor of that round, with their
#               median (topic loads: each round's figures and their median)
#   --h2-streams S  streams per TLS connection for ours-h2 (N clients over N/S connections)
#   --server NAME=PATH  also run the server binary PATH, under NAME, with the flags ours gets
#               (e.g. a build of an older commit, to compare before and after in one session);
#               NAME=ours replaces the freshly built server (ours-h2 then runs PATH too).
#               Repeatable; list NAME in --servers.
#   --notices K  while the pings are measured, loadgen publishes K notices (POST
#               /events/notice, a bearer token made for the session) to ours and every --server
#               (over plain HTTP: not to ours-h2, naive or floor, which run as usual), and reports
#               their delivery latency, the POSTs' latency and delivered/expected
#   --notice-rate R  notices per second (default 100)
#   --topics MODE  a topic load instead of the ping bench, on ours and every --server (they must
#               have topics; the servers default to "ours"; naive, floor and ours-h2 cannot
#               run it): the clients subscribe by topic and loadgen publishes --notices K
#               (default: 10 s worth) at --notice-rate R on topics, measuring the server's CPU
#               per publish (gross, and net of its idle CPU with every stream open, sampled
#               for 5 s first), delivery latency and delivered/expected. MODE per-client: client
#               i subscribes to ?topic=users/<i>, each notice goes to a random users/<n> (one
#               client); pattern: every client subscribes to ?topic=orders/*, each notice goes
#               to a random orders/<n> (every client)
#   --private   the private-topics bench: servers "ours ours-topics ours-private ours-auth
#               floor" at 10000 clients unless told (--servers, --clients, --quick).
#               ours-private is ours with --private-topics 'users/**' and a --subscribe-key made
#               for the session, a --private-fraction of its clients (every tenth) holding a
#               token for users/<i>/** and subscribed to ?topic=users/<i>/** (no pings: the
#               pings are measured on the anonymous others); ours-topics is its control, plain
#               ours with the same clients on the same topics without tokens; ours-auth is the
#               private server with every client holding a token and on every topic (the ping
#               stream through the topic index's `**` path), to compare its connects and its
#               pings with ours'. All three are names for --servers too, without --private
#   --private-fraction F  the share of ours-private's clients that hold a token, and of
#               ours-topics' on their own topics (default 0.1)
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
notices=0
notice_rate=100
topics=""
private_fraction=0.1
private=""
servers_given=
clients_given=
# --server NAME=PATH: the binary each of those servers runs.
declare -A server_bin=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) clients="1000"; events=5; clients_given=1; shift ;;
    --update) update="--update BENCHMARKS.md"; shift ;;
    --keep) keep=1; shift ;;
    --clients) clients="$2"; clients_given=1; shift 2 ;;
    --events) events="$2"; shift 2 ;;
    --servers) servers="$2"; servers_given=1; shift 2 ;;
    --ours-args) ours_args="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --h2-streams) h2_streams="$2"; shift 2 ;;
    --server)
      name="${2%%=*}" path="${2#*=}"
      if [[ "$name" == "$2" || -z "$name" || ! -x "$path" ]]; then
        echo "--server wants NAME=PATH, PATH an executable: $2" >&2; exit 2
      fi
      case "$name" in
        ours-h2 | ours-topics | ours-private | ours-auth | naive | floor)
          echo "--server: $name is not a name to give a binary" >&2; exit 2 ;;
      esac
      server_bin[$name]="$path"; shift 2 ;;
    --notices) notices="$2"; shift 2 ;;
    --notice-rate) notice_rate="$2"; shift 2 ;;
    --topics)
      case "$2" in
        per-client | pattern) topics="$2" ;;
        *) echo "--topics wants per-client or pattern: $2" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --private) private=1; shift ;;
    --private-fraction) private_fraction="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# A topic load measures the notices it publishes on topics: ten seconds' worth unless told, on
# our server (and every --server) only, as the baselines have no topics.
if [[ -n "$topics" ]]; then
  ((notices > 0)) || notices=$((10 * notice_rate))
  [[ -n "$servers_given" ]] || servers="ours"
  for name in $servers; do
    case "$name" in
      ours-h2 | naive | floor) echo "--topics: $name has no topics to load" >&2; exit 2 ;;
    esac
  done
fi

# The private-topics bench: ours beside ours with tokens, against the floor, at 10,000 clients.
if [[ -n "$private" ]]; then
  [[ -n "$servers_given" ]] || servers="ours ours-topics ours-private ours-auth floor"
  [[ -n "$clients_given" ]] || clients="10000"
fi
# The servers of the private-topics bench run ours: with private topics and a key, or (the
# control, ours-topics) as it is.
uses_key=""
private_servers=""
for name in $servers; do
  case "$name" in
    ours-private | ours-auth) uses_key=1; private_servers=1 ;;
    ours-topics) private_servers=1 ;;
  esac
done

# The server is built unless every server that runs it was given another binary; ours-h2 also
# needs its self-signed-cert tool.
packages=(-p bench)
if [[ -z "${server_bin[ours]:-}" || " $servers " == *" ours-h2 "* ]]; then packages+=(-p server); fi
if [[ -n "$topics" && -n "$private_servers" ]]; then
  echo "--topics: ours-topics, ours-private and ours-auth run the ping bench only" >&2; exit 2
fi
cargo build --release -q "${packages[@]}"
bin=target/release
server_bin[ours]="${server_bin[ours]:-$bin/server}"
server_bin[ours-h2]="${server_bin[ours]}"
if [[ -n "$private_servers" ]]; then
  server_bin[ours-topics]="${server_bin[ours]}"
  server_bin[ours-private]="${server_bin[ours]}"
  server_bin[ours-auth]="${server_bin[ours]}"
fi
if [[ -n "$uses_key" ]]; then
  # The key the private servers verify subscriber tokens with and loadgen signs them with (32
  # random bytes, hex); handed to each through its environment only, so it shows in no command
  # line and plain ours never has it.
  subscribe_key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
fi
# A token for the session's publishers (loadgen) to publish with; both read it from the
# environment, so it shows in no command line.
if ((notices > 0)); then
  PINGSTREAM_PUBLISH_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  export PINGSTREAM_PUBLISH_TOKEN
fi
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
declare -A port=([ours]=18080 [naive]=18081 [floor]=18082 [ours-h2]=18083 [ours-private]=18084
  [ours-auth]=18085 [ours-topics]=18086)
next_port=18090
for name in "${!server_bin[@]}"; do
  if [[ -z "${port[$name]:-}" ]]; then port[$name]=$((next_port++)); fi
done
max=0
for n in $clients; do ((n > max)) && max=$n; done

# Whether loadgen publishes notices to this server: ours and every --server, over plain HTTP.
publishes() {
  ((notices > 0)) && [[ "$1" != ours-h2 && -n "${server_bin[$1]:-}" ]]
}

start_server() {
  local name=$1 addr="127.0.0.1:${port[$1]:-}"
  case "$name" in
    naive) "$bin/naive-server" --addr "$addr" --interval-ms "$interval_ms" >/dev/null & ;;
    floor) "$bin/floor-server" --addr "$addr" --interval-ms "$interval_ms" >/dev/null & ;;
    *)
      if [[ -z "${server_bin[$name]:-}" ]]; then echo "unknown server: $name" >&2; exit 2; fi
      local extra_args=()
      [[ "$name" == ours-h2 ]] && extra_args=(--tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem")
      local key=""
      case "$name" in
        ours-private | ours-auth) extra_args+=(--private-topics 'users/**'); key="$subscribe_key" ;;
      esac
      # The token comes from the environment (PINGSTREAM_PUBLISH_TOKEN); a rate and burst of
      # twice the notices' rate, so that no publish is refused for it.
      publishes "$name" && extra_args+=(--publish-rate $((2 * notice_rate)) --publish-burst $((2 * notice_rate)))
      # shellcheck disable=SC2086 # $ours_args is a list of words, split on purpose
      env -u PINGSTREAM_SUBSCRIBE_KEY ${key:+"PINGSTREAM_SUBSCRIBE_KEY=$key"} RUST_LOG=error \
        "${server_bin[$name]}" --addr "$addr" --interval-ms "$interval_ms" \
        --max-clients $((max + 1000)) --static-dir /nonexistent "${extra_args[@]}" $ours_args >/dev/null &
      ;;
  esac
  server_pid=$!
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((round = 1; round <= repeat; round++)); do
  for n in $clients; do for name in $servers; do
    echo "== $name, $n clients${topics:+, topics $topics} (run $round of $repeat)" >&2
    start_server "$name"
    # Let the server settle (and tick once) before the "before" RSS sample.
    sleep 1.5
    url="http://127.0.0.1:${port[$name]}/sse"
    load_args=()
    if [[ "$name" == ours-h2 ]]; then
      url="https://127.0.0.1:${port[$name]}/sse"
      load_args=(--ca "$tls/cert.pem" --connections $(((n + h2_streams - 1) / h2_streams)))
    fi
    publishes "$name" && load_args+=(--notices "$notices" --notice-rate "$notice_rate")
    [[ -n "$topics" ]] && load_args+=(--topics "$topics")
    key=""
    case "$name" in
      ours-topics) load_args+=(--private-fraction "$private_fraction" --private-streams per-user --without-tokens) ;;
      ours-private)
        load_args+=(--private-fraction "$private_fraction" --private-streams per-user)
        key="$subscribe_key" ;;
      ours-auth) load_args+=(--private-fraction 1 --private-streams every-topic); key="$subscribe_key" ;;
    esac
    env -u PINGSTREAM_SUBSCRIBE_KEY ${key:+"PINGSTREAM_SUBSCRIBE_KEY=$key"} "$bin/loadgen" --url "$url" "${load_args[@]}" --clients "$n" \
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
