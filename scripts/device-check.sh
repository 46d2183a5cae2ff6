#!/usr/bin/env bash
# The one prepared GPU check, run on the device machine from the project root. It cannot pass silently: a
# build without CUDA, a machine without a usable GPU, a driver that reports SKIP, a crash, a sanitizer error
# or a step that runs out of time is a failure, named in the last line.
#
#   usage: scripts/device-check.sh [--quick] [--only STEP[,STEP...]] [--groups GROUP[,GROUP...]] [OUTDIR]
#     OUTDIR    every log, the GPU description and summary.txt go here (default: $OUT, else /tmp/hn-device-check)
#     --quick   fewer repetitions and the smaller parity set for the parity and timing steps
#     --only    rerun some steps: build, memcheck, racecheck, initcheck, parity, timing, torch (default: all;
#               a step other than build reuses the last build in build-device)
#     --groups  parity groups for the parity step (memory, noise, gemm, hypernet, sequential, rewards, optim,
#               tto, objects; default all)
#
# Steps, each in its own process under its own timeout (together 510 s, inside the 9 minutes a device call
# gets): build the C++ driver only, for sm_90, with nvcc named explicitly (150 s); compute-sanitizer memcheck,
# racecheck (the shared-memory kernels: gemm, hypernet) and initcheck on the quick parity set (50 s each);
# CPU-vs-CUDA parity (60 s); kernel timings (90 s); the PyTorch-eager peer (60 s).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=""
ONLY="build,memcheck,racecheck,initcheck,parity,timing,torch"
GROUPS_ARG=()
OUTDIR="${OUT:-/tmp/hn-device-check}"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK="--quick" ;;
    --only) ONLY="$2"; shift ;;
    --groups) GROUPS_ARG=(--only "$2"); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "device-check: unknown option $1 (see --help)"; exit 2 ;;
    *) OUTDIR="$1" ;;
  esac
  shift
done
mkdir -p "$OUTDIR"
BUILD=build-device
DRIVER="$BUILD/hn_cuda_parity"
t0=$(date +%s)
STATUS=()   # "step|result|seconds|detail"
FAILED=""

stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
wants() { [[ ",$ONLY," == *",$1,"* ]]; }
record() {  # step result seconds detail
  STATUS+=("$1|$2|$3|$4")
  [ "$2" = ok ] || FAILED="${FAILED:+$FAILED; }$1: $4"
}
# run STEP TIMEOUT LOG CMD...: the command under a timeout, its output in LOG; sets RC and SECS.
run() {
  local step=$1 limit=$2 log=$3; shift 3
  stamp "$step (timeout ${limit}s, log $log)"
  local s; s=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" >"$log" 2>&1
  RC=$?
  SECS=$(( $(date +%s) - s ))
}
timed_out() { [ "$1" = 124 ] || [ "$1" = 137 ]; }

if wants build; then
  NVCC_BIN=$(command -v nvcc || true)
  if [ -z "$NVCC_BIN" ]; then
    record build fail 0 "nvcc not found on PATH: the CUDA backend cannot be built"
  else
    run build 150 "$OUTDIR/build.log" bash -c "
      HYPERNOISE_CUDA=1 HYPERNOISE_TESTS=1 cmake -S . -B '$BUILD' -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DHYPERNOISE_ADDON=OFF -DCMAKE_CUDA_COMPILER='$NVCC_BIN' -DCMAKE_CUDA_ARCHITECTURES=90 &&
      cmake --build '$BUILD' --target hn_cuda_parity -j$(nproc)"
    if timed_out $RC; then record build fail "$SECS" "timed out (log: $OUTDIR/build.log)"
    elif [ $RC -ne 0 ]; then tail -30 "$OUTDIR/build.log"; record build fail "$SECS" "build failed (log: $OUTDIR/build.log)"
    else record build ok "$SECS" "sm_90, $NVCC_BIN"
    fi
  fi
  { nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv || echo "nvidia-smi: not available"
    "${NVCC_BIN:-nvcc}" --version | tail -1; } >"$OUTDIR/gpu.txt" 2>&1
fi

if [ -n "$FAILED" ] || [ ! -x "$DRIVER" ]; then
  [ -x "$DRIVER" ] || record driver fail 0 "$DRIVER is missing (run the build step)"
else
  # The driver must find CUDA compiled in and a device: --require-gpu turns its SKIP into exit 3.
  run probe 30 "$OUTDIR/probe.log" "$DRIVER" --require-gpu --no-parity --no-bench
  if [ $RC -ne 0 ]; then
    record probe fail "$SECS" "$(grep -E '^FAIL' "$OUTDIR/probe.log" | head -1 || echo "exit $RC")"
  else
    record probe ok "$SECS" "$(head -1 "$OUTDIR/probe.log" | cut -c1-100)"
    for tool in memcheck racecheck initcheck; do
      wants "$tool" || continue
      if ! command -v compute-sanitizer >/dev/null; then record "$tool" fail 0 "compute-sanitizer not found"; continue; fi
      set_args=(--quick --no-bench)
      [ "$tool" = racecheck ] && set_args+=(--only gemm,hypernet)
      run "$tool" 50 "$OUTDIR/$tool.log" compute-sanitizer --tool "$tool" --error-exitcode 86 --print-limit 20 \
        "$DRIVER" --require-gpu "${set_args[@]}"
      summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUTDIR/$tool.log" | tail -1)
      if timed_out $RC; then record "$tool" fail "$SECS" "timed out before the end of the quick set"
      elif [ $RC -ne 0 ]; then record "$tool" fail "$SECS" "exit $RC: ${summary:-see $OUTDIR/$tool.log}"
      else record "$tool" ok "$SECS" "${summary:-no errors}"
      fi
    done
    if wants parity; then
      run parity 60 "$OUTDIR/parity.log" "$DRIVER" --require-gpu --no-bench $QUICK "${GROUPS_ARG[@]}"
      line=$(grep -E "^PARITY" "$OUTDIR/parity.log" | tail -1)
      if timed_out $RC; then record parity fail "$SECS" "timed out"
      elif [ $RC -ne 0 ] || [ -z "$line" ]; then
        record parity fail "$SECS" "exit $RC: ${line:-$(grep -E 'FAIL' "$OUTDIR/parity.log" | head -1)}"
      else record parity ok "$SECS" "$line"
      fi
    fi
    if wants timing; then
      run timing 90 "$OUTDIR/timing.log" "$DRIVER" --require-gpu --no-parity $QUICK
      rows=$(sed -n '/^kernel /,$p' "$OUTDIR/timing.log" | grep -c . || true)
      if timed_out $RC; then record timing fail "$SECS" "timed out"
      elif [ $RC -ne 0 ] || [ "$rows" -lt 3 ]; then record timing fail "$SECS" "exit $RC, $rows table lines"
      else record timing ok "$SECS" "$(( rows - 2 )) kernels timed"
      fi
    fi
  fi
fi

if wants torch; then
  run torch 60 "$OUTDIR/torch.json" python3 bench/peers/torch_cuda.py $QUICK
  if timed_out $RC; then record torch fail "$SECS" "timed out"
  elif [ $RC -ne 0 ]; then record torch fail "$SECS" "exit $RC: $(tail -1 "$OUTDIR/torch.json")"
  else record torch ok "$SECS" "$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['torch'], d['device'], len(d['results']), 'cases')" "$OUTDIR/torch.json" 2>&1)"
  fi
fi

{
  echo
  echo "==================== device check: $(date -u +%FT%TZ), $(( $(date +%s) - t0 )) s ===================="
  [ -f "$OUTDIR/gpu.txt" ] && cat "$OUTDIR/gpu.txt"
  if [ -f "$OUTDIR/timing.log" ]; then
    echo "-- hypernoise CUDA timings ($OUTDIR/timing.log)"
    sed -n '/^kernel /,$p' "$OUTDIR/timing.log"
  fi
  if [ -f "$OUTDIR/torch.json" ] && wants torch; then
    echo "-- PyTorch eager ($OUTDIR/torch.json)"
    python3 - "$OUTDIR/torch.json" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["results"]:
    print(f"{r['name']:<46} n={r['n']:<3} {r['median_us']:10.1f} us")
PY
  fi
  echo "-- steps"
  printf '%-10s %-5s %6s  %s\n' step result s detail
  for row in "${STATUS[@]}"; do
    IFS='|' read -r s r t d <<<"$row"
    printf '%-10s %-5s %6s  %s\n' "$s" "$r" "$t" "$d"
  done
  if [ -n "$FAILED" ]; then echo "DEVICE CHECK FAILED: $FAILED"; else echo "DEVICE CHECK PASSED"; fi
} | tee "$OUTDIR/summary.txt"
[ -z "$FAILED" ]
