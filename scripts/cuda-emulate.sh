#!/usr/bin/env bash
# Runs the CUDA backend's kernels without a GPU: compiles native/cuda/*.cu as host C++ against the emulated
# runtime in native/tests/cuda_emu (CUDA threads as fibers, blocks in turn) and runs the CPU-vs-CUDA parity
# driver on it. Checks the kernels' logic (indexing, epilogues, reductions, pivoting, barrier placement);
# timing and the GPU memory model need the real device (scripts/device-check.sh).
#   usage: scripts/cuda-emulate.sh [driver options, default --quick]     env: BUILD (build-emu), SANITIZE=1
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD:-build-emu}"
mkdir -p "$B/obj"
CXX="${CXX:-g++}"
FLAGS=(-std=c++17 -O2 -g -fno-math-errno -fno-trapping-math -ffp-contract=off -pthread -Wall -Wno-unused-parameter
       -Wno-unknown-pragmas -Inative -Inative/tests/cuda_emu -DHN_WITH_CUDA=1 -DHN_CUDA_EMULATION=1)
LINK=()
if [ "${SANITIZE:-0}" = 1 ]; then FLAGS+=(-fsanitize=address,undefined -fno-omit-frame-pointer); LINK+=(-fsanitize=address,undefined); fi
srcs=(native/core/*.cc native/cpu/*.cc native/registry/*.cc native/cuda/*.cu native/tests/cuda_emu/emu.cc native/tests/cuda_parity.cc)
objs=()
for s in "${srcs[@]}"; do objs+=("$B/obj/$(echo "$s" | tr / _).o"); done
printf '%s\n' "${srcs[@]}" | xargs -P "$(nproc)" -I{} sh -c '
  src="$1"; shift; obj="$0/obj/$(echo "$src" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find native/cuda native/core native/cpu native/registry native/tests/cuda_emu -newer "$obj" \( -name "*.h" -o -name "*.cuh" \) | head -1)" ]; then
    case "$src" in *.cu) lang="-x c++";; *) lang="";; esac
    echo "  compile $src"; '"$CXX"' $lang "$@" -c "$src" -o "$obj"
  fi' "$B" {} "${FLAGS[@]}"
"$CXX" "${LINK[@]}" -pthread "${objs[@]}" -o "$B/hn_cuda_parity_emu"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--quick)
"$B/hn_cuda_parity_emu" --no-bench "${args[@]}"
