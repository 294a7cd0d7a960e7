#!/usr/bin/env bash
# Side-by-side timing of Cox (Efron, n = 1M, p = 10), Kaplan-Meier (10M) and the log-rank test
# (10M): this workspace's `models` crate against R survival and lifelines, fit only (loading not
# timed), on the same CSV files. Prints a table of times and ratios (ours vs the faster of R and
# lifelines) and the largest relative difference of our Cox coefficients from R's.
#
# Usage: benches/compare/run.sh [DATA_DIR]     (default: $TMPDIR/wb-compare; generated if absent)
# Needs: python3 with numpy, pandas, lifelines; Rscript with survival; cargo.
# Environment: REPEAT=N times our fits N times and reports the fastest (default 1, as R and lifelines).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-${TMPDIR:-/tmp}/wb-compare}"
repeat="${REPEAT:-1}"
target="${CARGO_TARGET_DIR_COMPARE:-$HOME/.cache/wb-bench-release}"

mkdir -p "$data"
if [[ ! -s "$data/cox.csv" || ! -s "$data/km.csv" ]]; then
    echo "generating data in $data ..." >&2
    python3 "$here/make_data.py" "$data" >&2
fi

echo "building the Rust side (release, models only) ..." >&2
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --quiet --release -p benches --bin compare)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "running rust ..." >&2
"$target/release/compare" "$data" --repeat "$repeat" >"$out/rust.tsv"
echo "running R ..." >&2
Rscript "$here/run_r.R" "$data" >"$out/r.tsv"
echo "running lifelines ..." >&2
python3 "$here/run_lifelines.py" "$data" >"$out/lifelines.tsv"

python3 - "$out" <<'EOF'
import sys

out = sys.argv[1]
rows = {}
for tool in ("rust", "r", "lifelines"):
    with open(f"{out}/{tool}.tsv") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                rows[(tool, parts[1])] = parts[2]

def seconds(tool, measure):
    try:
        return float(rows[(tool, measure)])
    except (KeyError, ValueError):
        return float("nan")

print("| measure | ours (s) | R survival (s) | lifelines (s) | faster of R, lifelines / ours | lifelines / ours |")
print("|---|---:|---:|---:|---:|---:|")
for measure, ours_measure in (
    ("cox_efron_1M_p10", "cox_efron_1M_p10"),
    # lifelines computes the concordance lazily, R within coxph(): ours without it, for reference.
    ("cox_efron_1M_p10", "cox_efron_1M_p10_no_concordance"),
    ("km_10M", "km_10M"),
    ("logrank_10M", "logrank_10M"),
):
    ours = seconds("rust", ours_measure)
    r, ll = seconds("r", measure), seconds("lifelines", measure)
    best = min(r, ll)
    print(f"| {ours_measure} | {ours:.3f} | {r:.3f} | {ll:.3f} | {best / ours:.1f}x | {ll / ours:.1f}x |")

ours = [float(v) for v in rows[("rust", "coef")].split(",")]
theirs = [float(v) for v in rows[("r", "coef")].split(",")]
ll = [float(v) for v in rows[("lifelines", "coef")].split(",")]
rel = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, theirs))
rel_ll = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, ll))
print()
print(f"max relative difference of Cox coefficients, ours vs R: {rel:.2e} (vs lifelines: {rel_ll:.2e})")
chi = {t: float(rows[(t, "logrank_chisq")]) for t in ("rust", "r", "lifelines")}
print(f"log-rank chi-square: ours {chi['rust']:.10g}, R {chi['r']:.10g}, lifelines {chi['lifelines']:.10g}")
EOF
