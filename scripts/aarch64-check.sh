#!/usr/bin/env bash
# Cross-compiles the C++ test programs for AArch64 (Debian's g++-aarch64-linux-gnu) and runs them under
# qemu-user: the NEON and scalar paths against the same expectations as on x86 (bit-identical noise,
# parity with the scalar path), and the digests of hn_isa_test against the x86 ones given as arguments
# (the library's results are the same on both architectures: a digest that differs fails the check).
#   usage: scripts/aarch64-check.sh [X86_VECTOR_DIGEST X86_SCALAR_DIGEST]     env: BUILD (build-arm)
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD:-build-arm}"
command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null || {
  echo "aarch64-check: needs g++-aarch64-linux-gnu and qemu-user (apt-get install g++-aarch64-linux-gnu qemu-user)" >&2
  exit 1
}
cmake -S . -B "$B" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DHYPERNOISE_CUDA=OFF -DHYPERNOISE_ADDON=OFF >/dev/null
cmake --build "$B" --target hn_core_test hn_gemm_test hn_isa_test -j "$(nproc)"
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
for isa in neon scalar; do
  echo "-- HYPERNOISE_ISA=$isa"
  HYPERNOISE_ISA=$isa qemu-aarch64 "$B/hn_core_test" --quick | tail -2
  HYPERNOISE_ISA=$isa qemu-aarch64 "$B/hn_gemm_test" --quick | tail -1
done
out=$(qemu-aarch64 "$B/hn_isa_test")
echo "$out" | tail -5
vector=$(echo "$out" | awk '$1 == "digest" && $2 == "neon" {print $3}')
scalar=$(echo "$out" | awk '$1 == "digest" && $2 == "scalar" {print $3}')
if [ $# -ge 2 ]; then
  [ "$vector" = "$1" ] || { echo "aarch64-check: NEON digest $vector differs from the x86 vector paths' $1" >&2; exit 1; }
  [ "$scalar" = "$2" ] || { echo "aarch64-check: scalar digest $scalar differs from x86's $2" >&2; exit 1; }
  echo "aarch64-check: NEON and scalar results bit-identical to x86 ($vector, $scalar)"
fi
