# pingstream: `just run` to start the app, `just test` to check everything.

set shell := ["bash", "-euo", "pipefail", "-c"]

tools := env("PINGSTREAM_TOOLS", env("XDG_CACHE_HOME", env("HOME") + "/.cache") + "/pingstream/tools")
export PATH := tools + "/node_modules/.bin:" + env("HOME") + "/.cargo/bin:" + env("PATH")
export TRUNK_OFFLINE := "true"

# The ports of the recipes a person runs, each taken from the environment when set there: for a
# second copy beside a running one (`PINGSTREAM_DEV_PORT=9081 PINGSTREAM_DEV_SERVER_PORT=9080 just
# dev`) and for the recipes' own tests (test-recipes). Only these recipes read them, not the server.
dev_port := env("PINGSTREAM_DEV_PORT", "8081")
dev_server_port := env("PINGSTREAM_DEV_SERVER_PORT", "8080")
tls_port := env("PINGSTREAM_TLS_PORT", "8443")
cluster_ports := env("PINGSTREAM_CLUSTER_PORTS", "8081 8082")
cluster_redis_ports := env("PINGSTREAM_CLUSTER_REDIS_PORTS", "6380 6381")
cluster_sentinel_ports := env("PINGSTREAM_CLUSTER_SENTINEL_PORTS", "26380 26381 26382")
# Where dev, cluster and cluster-ha write (dev-dist/, cluster/, cluster-ha/), so that a second copy
# neither serves nor rewrites the first one's files.
recipe_dir := env("PINGSTREAM_RECIPE_DIR", "target")
# The stream's path (shared::STREAM_PATH), which `just dev`'s trunk forwards to the server.
stream_path := "/sse"

# List the recipes.
default:
    @just --list --unsorted

# Build the release frontend into dist/ and the release server, then serve both on http://127.0.0.1:8080.
run *ARGS: build
    ./target/release/server {{ARGS}}

# The same over HTTPS and HTTP/2 on https://localhost:8443, with the certificate of `just cert` (trust it first: README, TLS and HTTP/2).
run-tls *ARGS: cert build
    ./target/release/server --addr 127.0.0.1:{{tls_port}} --tls-cert target/tls/cert.pem --tls-key target/tls/key.pem {{ARGS}}

# A self-signed certificate for localhost, 127.0.0.1 and ::1 in target/tls/ (cert.pem, key.pem); kept if already there.
cert:
    #!/usr/bin/env bash
    set -euo pipefail
    if [[ -f target/tls/cert.pem && -f target/tls/key.pem ]]; then
        echo "target/tls/cert.pem is there already (delete target/tls for a new one)"
        exit 0
    fi
    cargo run --release -q -p server --bin self-signed-cert -- target/tls

# Frontend with live reload (trunk serve, http://127.0.0.1:8081) and the server (cargo run) together; Ctrl-C stops both.
dev: (setup "build")
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build -p server
    # Stop both on the way out (not `kill 0`: that signals this shell too, and the trap runs again).
    trap 'exit 0' INT TERM
    trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
    # trunk serve's debug build goes to its own folder, so dist/ keeps the release build.
    cargo run -p server -- --addr 127.0.0.1:{{dev_server_port}} --static-dir {{recipe_dir}}/dev-dist &
    trunk serve --dist {{recipe_dir}}/dev-dist --port {{dev_port}} --proxy-backend http://127.0.0.1:{{dev_server_port}}{{stream_path}} &
    echo
    echo "    open http://127.0.0.1:{{dev_port}}  (live reload; the stream is proxied to the server on :{{dev_server_port}})"
    echo
    # When either one stops (Ctrl-C, a port already taken, a crash), the trap stops the other.
    wait -n

# A local redis-server (:6380, data in target/cluster/) and two replicas sharing one stream on http://127.0.0.1:8081 and :8082; Ctrl-C stops all.
cluster: (setup "redis") build
    #!/usr/bin/env bash
    set -euo pipefail
    dir={{recipe_dir}}/cluster
    read -r redis_port _ <<<"{{cluster_redis_ports}}"
    mkdir -p "$dir"
    # Stop Redis and both replicas on the way out (not `kill 0`: that signals this shell too, and
    # the trap runs again).
    trap 'exit 0' INT TERM
    trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir" --appendonly yes --save "" >"$dir/redis.log" &
    scripts/wait-for-redis.sh $! "$redis_port" "$dir/redis.log"
    export PINGSTREAM_REDIS_URL=redis://127.0.0.1:$redis_port
    for port in {{cluster_ports}}; do
        ./target/release/server --addr "127.0.0.1:$port" &
    done
    echo
    echo "    replicas:$(printf '  http://127.0.0.1:%s' {{cluster_ports}})  (one stream, shared through Redis :$redis_port)"
    echo
    wait

# Redis with Sentinel: a master (:6380), a replica (:6381), three sentinels (:26380-26382) and two replicas on http://127.0.0.1:8081 and :8082 that find the master through them; Ctrl-C stops all.
cluster-ha: (setup "redis") build
    #!/usr/bin/env bash
    set -euo pipefail
    dir={{recipe_dir}}/cluster-ha
    read -r master replica _ <<<"{{cluster_redis_ports}}"
    sentinels=({{cluster_sentinel_ports}})
    mkdir -p "$dir"
    trap 'exit 0' INT TERM
    trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
    redis-server --bind 127.0.0.1 --port "$master" --dir "$dir" --dbfilename master.rdb --appendonly no --save "" --repl-diskless-sync-delay 0 >"$dir/master.log" &
    scripts/wait-for-redis.sh $! "$master" "$dir/master.log"
    redis-server --bind 127.0.0.1 --port "$replica" --dir "$dir" --dbfilename replica.rdb --appendonly no --save "" --replicaof 127.0.0.1 "$master" >"$dir/replica.log" &
    scripts/wait-for-redis.sh $! "$replica" "$dir/replica.log"
    for port in "${sentinels[@]}"; do
        printf 'port %s\nbind 127.0.0.1\nsentinel monitor pingstream 127.0.0.1 %s 2\nsentinel down-after-milliseconds pingstream 1000\nsentinel failover-timeout pingstream 5000\n' "$port" "$master" >"$dir/sentinel-$port.conf"
        redis-server "$dir/sentinel-$port.conf" --sentinel >"$dir/sentinel-$port.log" &
    done
    sentinel_addrs=$(printf '127.0.0.1:%s,' "${sentinels[@]}")
    export PINGSTREAM_REDIS_SENTINEL=${sentinel_addrs%,}
    export PINGSTREAM_REDIS_MASTER_NAME=pingstream
    for port in {{cluster_ports}}; do
        ./target/release/server --addr "127.0.0.1:$port" &
    done
    echo
    echo "    replicas:$(printf '  http://127.0.0.1:%s' {{cluster_ports}})  (master :$master, replica :$replica, sentinels$(printf ' :%s' "${sentinels[@]}"))"
    echo "    fail over: kill -9 the process on :$master (redis-cli -p ${sentinels[0]} sentinel get-master-addr-by-name pingstream shows the new master)"
    echo
    wait

# The Sentinel drill of RELIABILITY.md: 1,000 clients through two replicas while the master is killed (a release test run, ~1 min; not part of test).
drill-ha: (setup "redis")
    cargo test --release -p server --test api sentinel::drill -- --ignored --nocapture

# Release frontend into dist/ and release server.
build: (setup "build")
    trunk build --release
    cargo build --release -p server --bin server

# Everything CI checks: formatting, lints (native and wasm32), native tests, browser tests, end to end, the recipes a person runs.
test: lint test-native test-browser test-e2e test-recipes

# The carried actix-http patch (vendor/README.md) is exactly release + diff and in use; formatting, clippy and the API docs with warnings as errors, native and wasm32.
lint: (setup "build")
    scripts/vendor-actix-http.sh --check
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    cargo clippy -p shared -p frontend --all-targets --target wasm32-unknown-unknown -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --exclude frontend
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p frontend --target wasm32-unknown-unknown

# Unit and property tests, the server's HTTP tests (real server on port 0; the Redis ones start a redis-server), and the quick fault suite.
test-native: (setup "redis")
    cargo test --workspace --exclude frontend

# Only the quick fault suite (churn, slow clients, crash-restart, SIGTERM under load, cap, memory per idle stream) and the property tests; part of test-native.
soak-quick:
    cargo test -p server --test soak
    cargo test -p shared -p server --lib properties

# The fault suite at full size on the release server (minutes; not part of test) and 100,000 cases per property.
soak:
    PINGSTREAM_SOAK=full cargo test --release -p server --test soak
    PROPTEST_CASES=100000 cargo test -p shared -p server --lib properties

# The fuzz targets of the network parsers (cursor, topic selectors, publish body, the load tool's SSE decoder on the release build; the page's tab-message decoder in headless Chromium) for SECONDS each, printing inputs per second (not part of test, which runs each for 2 s).
fuzz SECONDS="60": (setup "browser")
    PINGSTREAM_FUZZ_SECONDS={{SECONDS}} cargo test --release -p server --test fuzz -- --nocapture --test-threads 1
    PINGSTREAM_FUZZ_SECONDS={{SECONDS}} CHROMEDRIVER=$(command -v chromedriver) cargo test -p frontend --target wasm32-unknown-unknown --test tab_message_fuzz -- --nocapture

# The frontend's tests in headless Chromium (wasm-bindgen-test), and its engine's doctests (native: they touch no browser).
test-browser: (setup "browser")
    CHROMEDRIVER=$(command -v chromedriver) cargo test -p frontend --target wasm32-unknown-unknown
    cargo test -p frontend --doc

# The server serving the built dist/, driven through a real browser (chromedriver); the suite is built by test-native (its tests are ignored there) and only run here.
test-e2e: (setup "browser") build
    CHROMEDRIVER=$(command -v chromedriver) cargo test --workspace --exclude frontend --test e2e -- --ignored

# The recipes a person runs (dev, run-tls, cluster, cluster-ha, and README's add-an-event steps on a copy of the workspace), each run for real on ports of its own, checked and stopped with Ctrl-C (SIGINT); last in test, which has built what they build (test-native the suite, ignored there).
test-recipes: (setup "all") build
    CHROMEDRIVER=$(command -v chromedriver) cargo test --workspace --exclude frontend --test recipes -- --ignored

# Load benchmark, not part of `test`: ours (HTTP/1.1, and HTTP/2 over TLS) vs the naive and floor baselines at 1k/5k/10k/15k clients (~8 min); `--quick`: 1k only; `--update`: rewrite BENCHMARKS.md; `--notices K --notice-rate R`: publish notices while the clients listen; `--server NAME=PATH`: another build beside ours (BENCHMARKS.md).
bench *ARGS:
    scripts/bench.sh {{ARGS}}

# Install whatever the recipes need and is missing (idempotent): wasm target, trunk, wasm-bindgen-cli, wasm-opt, esbuild, Chromium, redis-server.
setup what="all":
    scripts/setup.sh {{what}}
