#!/usr/bin/env bash
# Load benchmark: plain file_server against the same site behind clerk_auth,
# warm (one repeated token) and cold (a new token per request: more distinct
# tokens than the cache holds, cycled, so that every request verifies).
# Caddy runs pinned to one core, wrk to another, on loopback. Not run by CI.
#
#   bench/run.sh            # from the repository root
#   DURATION=20s CONNS=64 SERVER_CPU=0 CLIENT_CPU=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TOKENS=${TOKENS:-12000} # three times the cache_size of bench/Caddyfile

if ! command -v wrk >/dev/null; then
	echo "installing wrk" >&2
	apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

echo "building bench/caddy" >&2
go build -o bench/caddy ./cmd/caddy
echo "minting $TOKENS tokens" >&2
go run ./cmd/demotoken -n "$TOKENS" -org-id org_bench -org-role admin -out bench/tokens.txt
head -n 1 bench/tokens.txt >bench/token1.txt

taskset -c "$SERVER_CPU" bench/caddy run --config bench/Caddyfile --adapter caddyfile >bench/caddy.log 2>&1 &
CADDY=$!
trap 'kill $CADDY 2>/dev/null; wait $CADDY 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -fs -o /dev/null http://127.0.0.1:9080/file.txt && break
	sleep 0.2
done
# The protected site must answer a token with the file and no token with 401.
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat bench/token1.txt)" http://127.0.0.1:9081/file.txt)" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9081/file.txt)" = 401 ]

# caddy_cpu_ticks is the CPU time Caddy has used, in clock ticks.
caddy_cpu_ticks() { awk '{print $14 + $15}' "/proc/$CADDY/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run <name> <url> [lua script and its token file]: prints name, req/s, p99
# and Caddy's CPU time per request in µs (which other load on the machine
# does not inflate as it does req/s and latency).
run() {
	local name=$1 url=$2 script=${3:-} tokens=${4:-} args=()
	if [ -n "$script" ]; then args=(-s "$script" "$url" -- "$tokens"); else args=("$url"); fi
	taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$WARMUP" "${args[@]}" >/dev/null
	local out t0 t1
	t0=$(caddy_cpu_ticks)
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${args[@]}")
	t1=$(caddy_cpu_ticks)
	if grep -q "Non-2xx" <<<"$out"; then
		echo "$name: some responses were not 2xx:" >&2
		echo "$out" >&2
		exit 1
	fi
	local rps p99 n cpu
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	cpu=$(awk -v d="$((t1 - t0))" -v u="$TICK_US" -v n="$n" 'BEGIN {printf "%.1f", d * u / n}')
	echo "$name $rps $p99 $cpu"
}

# plain gets the same header as warm, so that only clerk_auth differs.
plain=$(run plain http://127.0.0.1:9080/file.txt bench/bearer.lua bench/token1.txt)
warm=$(run warm http://127.0.0.1:9081/file.txt bench/bearer.lua bench/token1.txt)
cold=$(run cold http://127.0.0.1:9081/file.txt bench/bearer.lua bench/tokens.txt)

base=$(awk '{print $2}' <<<"$plain")
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t1 -c$CONNS -d$DURATION, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, 1 KiB file"
base_cpu=$(awk '{print $4}' <<<"$plain")
printf '%-6s %12s %10s %8s %12s %14s\n' case req/s p99 ratio cpu-us/req added-cpu-us
for line in "$plain" "$warm" "$cold"; do
	read -r name rps p99 cpu <<<"$line"
	printf '%-6s %12s %10s %8.3f %12s %14.1f\n' "$name" "$rps" "$p99" \
		"$(awk -v a="$rps" -v b="$base" 'BEGIN {print a / b}')" "$cpu" "$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN {print a - b}')"
done
