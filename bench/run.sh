#!/usr/bin/env bash
# Load benchmark: plain file_server against the same site behind clerk_auth,
# warm (one repeated token) and cold (a new token per request: more distinct
# tokens than the cache holds, cycled, so that every request verifies).
# Caddy runs pinned to one core, wrk to another, on loopback. Not run by CI.
# The three cases run in turn, ROUNDS times, so that the machine's drift
# touches them alike; each round also measures raw RS256 verification (the
# Go benchmark, on the server's core). The medians of the per-round figures
# are reported.
#
#   bench/run.sh            # from the repository root
#   ROUNDS=5 DURATION=10s CONNS=64 SERVER_CPU=0 CLIENT_CPU=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TOKENS=${TOKENS:-12000} # three times the cache_size of bench/Caddyfile

if ! command -v wrk >/dev/null; then
	echo "installing wrk" >&2
	apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

echo "building bench/caddy and the benchmark binary" >&2
go build -o bench/caddy ./cmd/caddy
go test -c -o bench/clerk_auth.test .
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

# caddy_cpu_ticks is the CPU time Caddy has used, in clock ticks: user and
# system. clerk_auth runs in user space; the system time per request also
# moves with throughput (a slower server handles fewer requests per wakeup).
caddy_cpu_ticks() { awk '{print $14, $15}' "/proc/$CADDY/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run <name> <url> [lua script and its token file]: prints name, req/s, p99,
# Caddy's CPU time per request in µs (which other load on the machine does
# not inflate as it does req/s and latency) and the user-space part of it.
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
	cpu=$(echo "$t0 $t1" | awk -v u="$TICK_US" -v n="$n" '{printf "%.1f %.1f", ($3 + $4 - $1 - $2) * u / n, ($3 - $1) * u / n}')
	echo "$name $rps $p99 $cpu"
}

# rawrsa: the CPU time of one raw RS256 verification (SHA-256 and
# rsa.VerifyPKCS1v15 of a session token) in µs, on the server's core.
rawrsa() {
	taskset -c "$SERVER_CPU" bench/clerk_auth.test -test.run '^$' -test.cpu 1 -test.benchtime 1s \
		-test.bench 'BenchmarkVerify/raw-rsa-pkcs1v15$' |
		awk '/^Benchmark/ {for (i = 2; i < NF; i++) if ($(i + 1) == "cpu-ns/op") printf "%.1f\n", $i / 1000}'
}

# plain gets the same header as warm, so that only clerk_auth differs.
results=()
for r in $(seq "$ROUNDS"); do
	echo "round $r of $ROUNDS" >&2
	results+=("$r $(run plain http://127.0.0.1:9080/file.txt bench/bearer.lua bench/token1.txt)")
	results+=("$r $(run warm http://127.0.0.1:9081/file.txt bench/bearer.lua bench/token1.txt)")
	results+=("$r $(run cold http://127.0.0.1:9081/file.txt bench/bearer.lua bench/tokens.txt)")
	raw=$(rawrsa)
	results+=("$r raw 0 0 $raw $raw")
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS rounds of wrk -t1 -c$CONNS -d$DURATION per case, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, 1 KiB file"
printf '%s\n' "${results[@]}" | awk '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ rps[$1, $2] = $3; p99[$1, $2] = $4; cpu[$1, $2] = $5; ucpu[$1, $2] = $6; if ($1 > n) n = $1 }
END {
	printf "round %6s %10s %10s %10s %10s %10s %10s %10s %10s\n", "", "plain", "warm", "cold", "warm/pl", "cold/pl", "cold+us", "user+us", "raw-us"
	for (r = 1; r <= n; r++) {
		wr[r] = rps[r, "warm"] / rps[r, "plain"]; cr[r] = rps[r, "cold"] / rps[r, "plain"]
		wa[r] = cpu[r, "warm"] - cpu[r, "plain"]; ca[r] = cpu[r, "cold"] - cpu[r, "plain"]
		raw[r] = cpu[r, "raw"]; rr[r] = ca[r] / raw[r]
		ua[r] = ucpu[r, "cold"] - ucpu[r, "plain"]; ur[r] = ua[r] / raw[r]
		pc[r] = cpu[r, "plain"]; wc[r] = cpu[r, "warm"]; cc[r] = cpu[r, "cold"]
		printf "%5d %6s %10s %10s %10s %10.3f %10.3f %10.1f %10.1f %10.1f\n", r, "req/s", rps[r, "plain"], rps[r, "warm"], rps[r, "cold"], wr[r], cr[r], ca[r], ua[r], raw[r]
		printf "%5s %6s %10s %10s %10s\n", "", "p99", p99[r, "plain"], p99[r, "warm"], p99[r, "cold"]
	}
	printf "\nmedians over the rounds\n"
	printf "  throughput ratio to plain:   warm %.3f   cold %.3f\n", median(wr, n), median(cr, n)
	printf "  Caddy CPU per request (us):  plain %.1f   warm %.1f   cold %.1f\n", median(pc, n), median(wc, n), median(cc, n)
	printf "  added CPU per request (us):  warm %.1f   cold %.1f\n", median(wa, n), median(ca, n)
	printf "  cold added, user space (us): %.1f\n", median(ua, n)
	printf "  raw RS256 verification (us): %.1f;   cold added / raw: %.2f (user space: %.2f)\n", median(raw, n), median(rr, n), median(ur, n)
}'
