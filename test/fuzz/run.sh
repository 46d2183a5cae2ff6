#!/usr/bin/env bash
# A fuzzing campaign over the file readers with Jazzer.js (install it first: test/fuzz/setup-jazzer.sh):
#   test/fuzz/run.sh [seconds per target, default 600] [targets, default: safetensors idx checkpoint]
# Each target starts from its kept corpus (test/fuzz/corpus/<target>), runs for the budget in a scratch
# copy, and the result is merged back minimised (libFuzzer -merge=1: only inputs that add coverage). Any
# finding (an input on which a reader ends in something other than a result or ERR_FILE) is written to
# test/fuzz/crashes/; copy it into the corpus once fixed, so that test/fuzz.test.ts replays it.
set -euo pipefail
cd "$(dirname "$0")/../.."
budget=${1:-600}
shift || true
targets=${*:-safetensors idx checkpoint}
jazzer=.devtools/jazzer/node_modules/.bin/jazzer
[ -x "$jazzer" ] || { echo "run test/fuzz/setup-jazzer.sh first" >&2; exit 1; }
npx tsc -p tsconfig.json
mkdir -p test/fuzz/crashes
for t in $targets; do
  sync=--sync
  [ "$t" = checkpoint ] && sync=
  work=$(mktemp -d)
  cp test/fuzz/corpus/"$t"/* "$work"/
  echo "== $t: ${budget}s"
  # -i dist/: instrument the library (the compiled TypeScript) for coverage.
  node "$jazzer" test/fuzz/targets/"$t".fuzz "$work" $sync -i dist/ -- \
    -max_total_time="$budget" -max_len=8192 -timeout=20 -rss_limit_mb=4096 \
    -dict=test/fuzz/safetensors.dict -artifact_prefix=test/fuzz/crashes/"$t"- -print_final_stats=1 2>&1 |
    grep -E "^#[0-9]+ +(DONE|INITED)|^stat::|ERROR|Finding|crash-|Done [0-9]+ runs" || true
  # libFuzzer only adds inputs that reach new coverage (and replaces ones it shrinks), so the output
  # corpus is already reduced; it is kept whole (named by content hash).
  cp "$work"/* test/fuzz/corpus/"$t"/
  echo "   corpus: $(ls test/fuzz/corpus/"$t" | wc -l) files, $(du -sk test/fuzz/corpus/"$t" | cut -f1) KiB"
  rm -rf "$work"
done
ls test/fuzz/crashes 2>/dev/null | grep . && echo "FINDINGS above" || echo "no findings"
