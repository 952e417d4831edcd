#!/usr/bin/env bash
# Measures a two-replica cluster with the default flags: a client that leaves replica A and
# resumes on replica B with its Last-Event-ID, and how long after a SIGKILL of the lease holder
# the other replica publishes. Needs redis-server, redis-cli, curl, python3 and a built server.
# Usage: scripts/failover.sh [path/to/server]   (default: target/release/server)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/server}
dir=$(mktemp -d)
# Until the processes start, only the folder needs cleaning up; then the trap below takes over.
trap 'rm -rf "$dir"' EXIT
redis_port=${REDIS_PORT:-6391}
a=${PORT_A:-8191}
b=${PORT_B:-8192}

redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$dir/redis.log" 2>&1 &
redis_pid=$!
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
export PINGSTREAM_REDIS_URL=redis://127.0.0.1:$redis_port
"$bin" --addr "127.0.0.1:$a" --static-dir /nonexistent 2>"$dir/a.log" &
a_pid=$!
sleep 0.5
"$bin" --addr "127.0.0.1:$b" --static-dir /nonexistent 2>"$dir/b.log" &
b_pid=$!
# Wait for them too, so that a next run finds the ports free; then remove the folder. On every
# exit, the failed check's included.
trap 'kill $a_pid $b_pid $redis_pid 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 3

echo "== resume across replicas"
timeout 3.5 curl -sN "http://127.0.0.1:$a/sse" >"$dir/on_a.txt" || true
last=$(grep '^id: ' "$dir/on_a.txt" | tail -1 | cut -c5-)
echo "read on A, last id: $last; away for 4 s"
sleep 4
timeout 2.5 curl -sN -H "Last-Event-ID: $last" "http://127.0.0.1:$b/sse" >"$dir/on_b.txt" || true
echo "B answers: $(grep '^id: ' "$dir/on_b.txt" | cut -c5- | tr '\n' ' ')"

echo "== failover"
if curl -s "http://127.0.0.1:$a/metrics" | grep -q '^pingstream_lease_holder 1'; then
  holder=$a_pid other=$b
else
  holder=$b_pid other=$a
fi
curl -sN "http://127.0.0.1:$other/sse" >"$dir/follow.txt" &
curl_pid=$!
sleep 2.5
killed=$(date +%s.%N)
kill -9 "$holder"
sleep 6
kill "$curl_pid"
python3 - "$killed" "$dir/follow.txt" <<'PY'
import datetime, json, sys
killed = float(sys.argv[1])
# Every event as (seq, ping time): ids are <epoch>-<seq>, one sequence over every event.
events, seq = [], None
for line in open(sys.argv[2]):
    if line.startswith("id: "):
        seq = int(line[4:].strip().rsplit("-", 1)[1])
    elif line.startswith("data: ") and seq is not None:
        data = json.loads(line[6:])
        time = datetime.datetime.fromisoformat(data["time"].replace("Z", "+00:00")).timestamp()
        events.append((seq, time))
        seq = None
seqs = [seq for seq, _ in events]
print("seqs on the other replica:", seqs)
consecutive = all(b == a + 1 for a, b in zip(seqs, seqs[1:]))
print("consecutive (no gap, no duplicate):", consecutive)
after = [(seq, time) for seq, time in events if time > killed]
if not after:
    sys.exit("no event after the SIGKILL: no failover within 6 s")
print(f"first event after the SIGKILL: seq {after[0][0]}, {after[0][1] - killed:.3f} s later")
if not consecutive:
    sys.exit("FAILED: the other replica's stream has a gap or a repeat")
PY
