// Run-time choice of the CPU instruction set and of its kernel table.
#include "isa.h"

#include "isa_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace hn {
namespace cpu {

namespace {
// -1: no override (set by tests through set_isa_override).
std::atomic<int> g_override{-1};

Isa detect() noexcept {
  // GCC's __builtin_cpu_supports also checks (via XGETBV) that the OS saves the YMM/ZMM state, so a
  // feature reported here is usable.
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  if (fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (fma && __builtin_cpu_supports("avx2")) return Isa::Avx2;
  return Isa::Scalar;
}

// HYPERNOISE_ISA caps the choice; read once, since kernels ask on every call and the environment does not change.
int env_cap() noexcept {
  const char* v = std::getenv("HYPERNOISE_ISA");
  if (!v) return static_cast<int>(Isa::Avx512);
  if (std::strcmp(v, "scalar") == 0) return static_cast<int>(Isa::Scalar);
  if (std::strcmp(v, "avx2") == 0) return static_cast<int>(Isa::Avx2);
  return static_cast<int>(Isa::Avx512);
}
}  // namespace

Isa detected_isa() noexcept {
  static const Isa isa = detect();
  return isa;
}

void set_isa_override(int cap) noexcept { g_override.store(cap < 0 ? -1 : cap, std::memory_order_relaxed); }

Isa active_isa() noexcept {
  static const int cap = env_cap();
  int isa = static_cast<int>(detected_isa());
  if (cap < isa) isa = cap;
  const int o = g_override.load(std::memory_order_relaxed);
  if (o >= 0 && o < isa) isa = o;
  return static_cast<Isa>(isa);
}

const IsaKernels& isa_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512_isa_kernels();
    case Isa::Avx2: return avx2_isa_kernels();
    default: return scalar_isa_kernels();
  }
}

const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace cpu
}  // namespace hn
