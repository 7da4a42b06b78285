#!/usr/bin/env bash
# The micro benchmark targets, measured so that the machine's drift cancels:
# the pass-through baseline, a warm request, a cold request and raw RS256
# verification run one after another in short rounds (GOMAXPROCS=1, so each
# pays for its own garbage collection), and each round gives its own
# figures; the medians over the rounds are reported.
#
#   bench/micro.sh               # 10 rounds of 1 s per benchmark, about 3 minutes
#   ROUNDS=20 BENCHTIME=2s bench/micro.sh
#
# Much shorter runs overstate the cold case: the first few thousand
# iterations after the tokens are minted run with cold caches.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}
BIN=$(mktemp -d)/clerk_auth.test
OUT=${OUT:-bench/micro.txt}
go test -c -o "$BIN" .
: >"$OUT"
for i in $(seq "$ROUNDS"); do
	echo "round $i" >>"$OUT"
	"$BIN" -test.run '^$' -test.cpu 1 -test.benchmem -test.benchtime "$BENCHTIME" \
		-test.bench 'BenchmarkHandler/(passthrough|warm-bearer|warm-user|passthrough-cold|cold-bearer)$|BenchmarkVerify/raw-rsa-pkcs1v15$' >>"$OUT"
done
rm -f "$BIN"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$ROUNDS rounds, -benchtime $BENCHTIME each, GOMAXPROCS=1; raw figures in $OUT"
awk '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function flush() {
	if (!("passthrough" in cpu)) return
	r++
	pass[r] = cpu["passthrough"]; raw[r] = cpu["raw-rsa-pkcs1v15"]
	warm[r] = cpu["warm-bearer"] - cpu["passthrough"]
	user[r] = cpu["warm-user"] - cpu["passthrough"]
	passCold[r] = cpu["passthrough-cold"]
	cold[r] = cpu["cold-bearer"] - cpu["passthrough-cold"]
	ratio[r] = cold[r] / cpu["raw-rsa-pkcs1v15"]
	delete cpu
}
/^round/ { flush() }
/^Benchmark/ {
	name = $1; sub(/^Benchmark[A-Za-z]+\//, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i + 1) == "cpu-ns/op") cpu[name] = $i
		if ($(i + 1) == "allocs/op") allocs[name] = $i
	}
}
END {
	flush()
	printf "%-44s %10s\n", "median over rounds", "value"
	printf "%-44s %10.0f ns   (%d allocs)\n", "pass-through baseline", median(pass, r), allocs["passthrough"]
	printf "%-44s %10.0f ns   (%d allocs)\n", "warm, org session: own cost", median(warm, r), allocs["warm-bearer"] - allocs["passthrough"]
	printf "%-44s %10.0f ns   (%d allocs)\n", "warm, user session: own cost", median(user, r), allocs["warm-user"] - allocs["passthrough"]
	printf "%-44s %10.0f ns\n", "raw RS256 (SHA-256 + rsa.VerifyPKCS1v15)", median(raw, r)
	printf "%-44s %10.0f ns   (%d allocs)\n", "pass-through baseline, the cold requests", median(passCold, r), allocs["passthrough-cold"]
	printf "%-44s %10.0f ns   (%d allocs)\n", "cold: added CPU", median(cold, r), allocs["cold-bearer"] - allocs["passthrough-cold"]
	printf "%-44s %10.3f x\n", "cold added / raw RS256", median(ratio, r)
}' "$OUT"
