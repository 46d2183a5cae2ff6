#!/usr/bin/env bash
# The one prepared GPU check (run on the device machine from the project root): build the C++ driver with
# CUDA for sm_90, run the CPU-vs-CUDA parity checks and kernel timings, the PyTorch-eager peer at the same
# shapes, and a compute-sanitizer memcheck of the quick parity set; logs under $OUT; a short summary last.
# Budget: well under 5 minutes on an H200 (build ~1 min with 16 cores).
#   usage: scripts/device-check.sh [--quick]      (--quick: fewer repetitions, smaller parity set)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/hn-device-check}"
mkdir -p "$OUT"
QUICK="${1:-}"
BUILD=build-cuda
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

stamp "configure + build (sm_90)"
# HYPERNOISE_CUDA=1: a configure that finds no nvcc fails here rather than building the CPU backend only.
if ! { HYPERNOISE_CUDA=1 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHYPERNOISE_ADDON=OFF \
         -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build "$BUILD" -j"$(nproc)"; } >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  echo "BUILD FAILED (log: $OUT/build.log)"
  exit 1
fi
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv 2>/dev/null; nvcc --version | tail -1; } \
  >"$OUT/gpu.txt"

stamp "parity + timings"
timeout 200 "$BUILD/hn_cuda_parity" $QUICK >"$OUT/parity.log" 2>&1
prc=$?

stamp "PyTorch peer"
timeout 120 python3 bench/peers/torch_cuda.py $QUICK >"$OUT/torch.json" 2>"$OUT/torch.log"
trc=$?

mrc=skipped
if command -v compute-sanitizer >/dev/null && [ $(( $(date +%s) - t0 )) -lt 200 ]; then
  stamp "compute-sanitizer memcheck (quick parity set)"
  timeout 90 compute-sanitizer --tool memcheck --print-limit 20 "$BUILD/hn_cuda_parity" --quick --no-bench \
    >"$OUT/memcheck.log" 2>&1
  mrc=$?
fi

stamp "done"
echo
echo "==================== summary ===================="
cat "$OUT/gpu.txt"
echo "-- parity (exit $prc): failures and totals"
grep -E "FAIL|exception" "$OUT/parity.log" | head -40
grep -E "^parity:|^PARITY|^SKIP" "$OUT/parity.log"
echo "-- memcheck (exit $mrc): $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" 2>/dev/null | tail -1)"
grep -E "Invalid|out of bounds|misaligned" "$OUT/memcheck.log" 2>/dev/null | sort | uniq -c | head -10
echo "-- hypernoise CUDA timings"
sed -n '/^kernel /,$p' "$OUT/parity.log" | grep -v "^PARITY"
echo "-- PyTorch eager (exit $trc)"
python3 - "$OUT/torch.json" <<'PY' || tail -5 "$OUT/torch.log"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"torch {d['torch']} on {d['device']}")
for r in d["results"]:
    print(f"{r['name']:<46} n={r['n']:<3} {r['median_us']:10.1f} us")
PY
