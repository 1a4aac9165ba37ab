#!/usr/bin/env bash
# Short libFuzzer run of every hush fuzz target, for CI.
#
#   fuzz/smoke.sh [SECONDS]      # SECONDS per target, default 20
#
# Needs the nightly toolchain (libFuzzer's sanitizer flags are nightly-only) and installs
# cargo-fuzz if it is missing. Each target runs on a fresh temporary corpus directory,
# seeded read-only from fuzz/corpus/<target>/ and fuzz/regressions/<target>/, so the
# committed corpus does not grow. Any crash, leak, timeout or out-of-memory fails the
# script; libFuzzer leaves the input as fuzz/artifacts/<target>/crash-* (or leak-*, ...).
set -euo pipefail

seconds="${1:-20}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "smoke.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# fuzz/Cargo.lock is committed; like the main workspace, CI must not change it.
cargo +nightly metadata --locked --format-version 1 >/dev/null

targets="$(cargo +nightly fuzz list)"
if [ -z "$targets" ]; then
    echo "smoke.sh: cargo fuzz list found no targets" >&2
    exit 1
fi

# Build every target once up front, so the per-target time below is fuzzing time.
cargo +nightly fuzz build

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=()
total_start=$(date +%s)
for target in $targets; do
    seeds=()
    for dir in "corpus/$target" "regressions/$target"; do
        if [ -d "$dir" ]; then
            seeds+=("$dir")
        fi
    done
    mkdir -p "$work/$target"
    start=$(date +%s)
    # The first corpus directory is where libFuzzer writes new inputs; the others are
    # only read. libFuzzer's progress goes to a log, shown only when the target fails.
    log="$work/$target.log"
    if cargo +nightly fuzz run "$target" "$work/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
        tail -n 60 "$log"
    fi
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
    echo "$target: $status, ${runs:-?} runs in $(($(date +%s) - start))s"
done
echo "total: $(($(date +%s) - total_start))s for $(echo "$targets" | wc -w) targets"

if [ "${#failed[@]}" -ne 0 ]; then
    echo "smoke.sh: failing targets: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
