#!/usr/bin/env bash
# Waits until the redis-server a recipe has just started answers on its port, for at most 10 s,
# and makes sure the one answering is that process: a port already held by another Redis (a
# system daemon, a second `just cluster`) would otherwise answer instead, and the replicas would
# use it without a word. Fails with the end of the server's log when it stopped (a port already
# taken) or never answered.
# Usage: scripts/wait-for-redis.sh PID PORT LOG
set -euo pipefail

pid=$1 port=$2 log=$3
for _ in $(seq 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "redis-server on :$port stopped before it answered (port already taken?); the end of $log:" >&2
    tail -n 5 "$log" >&2
    exit 1
  fi
  # Its answer names its process (`process_id:N`); a cut-off for a port that takes connections
  # and never answers.
  if info=$(timeout 1 redis-cli -p "$port" info server 2>/dev/null) &&
    grep -q "^process_id:$pid"$'\r'"\?$" <<<"$info"; then
    exit 0
  fi
  sleep 0.1
done
echo "redis-server on :$port (pid $pid) did not answer within 10 s; the end of $log:" >&2
tail -n 5 "$log" >&2
exit 1
