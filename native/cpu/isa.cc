// Run-time choice of the CPU instruction set and of its kernel table.
#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "isa_kernels.h"

namespace hn {
namespace cpu {

namespace {

// This architecture's ISAs, from the portable path up.
#if defined(__x86_64__) || defined(__i386__)
constexpr Isa kLevels[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};
#elif defined(__aarch64__)
constexpr Isa kLevels[] = {Isa::Scalar, Isa::Neon};
#else
constexpr Isa kLevels[] = {Isa::Scalar};
#endif
constexpr int kLevelCount = static_cast<int>(sizeof(kLevels) / sizeof(kLevels[0]));

// The position of `isa` in kLevels, or the top for an ISA of another architecture (no cap).
int level_of(Isa isa) noexcept {
  for (int i = 0; i < kLevelCount; ++i) {
    if (kLevels[i] == isa) return i;
  }
  return kLevelCount - 1;
}

// -1: no override (set by tests through set_isa_override).
std::atomic<int> g_override{-1};

Isa detect() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  // GCC's __builtin_cpu_supports also checks (via XGETBV) that the OS saves the YMM/ZMM state, so a
  // feature reported here is usable.
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  if (fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (fma && __builtin_cpu_supports("avx2")) return Isa::Avx2;
  return Isa::Scalar;
#elif defined(__aarch64__)
  return Isa::Neon;  // Advanced SIMD is part of every AArch64 CPU
#else
  return Isa::Scalar;
#endif
}

// HYPERNOISE_ISA caps the choice (its level); read once, since kernels ask on every call and the environment
// does not change. Unset or unknown: no cap.
int env_cap_level() noexcept {
  const char* v = std::getenv("HYPERNOISE_ISA");
  if (!v) return kLevelCount - 1;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (std::strcmp(v, isa_name(isa)) == 0) return level_of(isa);
  }
  return kLevelCount - 1;
}

}  // namespace

std::string isa_env_problem() {
  const char* v = std::getenv("HYPERNOISE_ISA");
  if (!v || env_cap_level() != kLevelCount - 1) return "";
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (std::strcmp(v, isa_name(isa)) == 0) return "";
  }
  return std::string("HYPERNOISE_ISA='") + v + "' is not one of scalar, avx2, avx512, neon: no cap is applied";
}

Isa detected_isa() noexcept {
  static const Isa isa = detect();
  return isa;
}

void set_isa_override(int cap) noexcept { g_override.store(cap < 0 ? -1 : cap, std::memory_order_relaxed); }

Isa active_isa() noexcept {
  static const int cap = env_cap_level();
  int level = level_of(detected_isa());
  if (cap < level) level = cap;
  const int o = g_override.load(std::memory_order_relaxed);
  if (o >= 0) {
    const int lo = level_of(static_cast<Isa>(o));
    if (lo < level) level = lo;
  }
  return kLevels[level];
}

int supported_isas(Isa* out) noexcept {
  const int top = level_of(detected_isa());
  for (int i = 0; i <= top; ++i) out[i] = kLevels[i];
  return top + 1;
}

const IsaKernels& isa_kernels(Isa isa) {
  switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case Isa::Avx512: return avx512_isa_kernels();
    case Isa::Avx2: return avx2_isa_kernels();
#endif
#if defined(__aarch64__)
    case Isa::Neon: return neon_isa_kernels();
#endif
    default: return scalar_isa_kernels();
  }
}

const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
    default: return "scalar";
  }
}

}  // namespace cpu
}  // namespace hn
