// The CPU instruction set the kernels use: detected at run time, capped by HYPERNOISE_ISA (and by a test
// hook), so that one machine can run every code path at or below its own.
#pragma once

#include <string>

namespace hn {
namespace cpu {

// x86-64: Scalar < Avx2 < Avx512; AArch64: Scalar < Neon. A cap names a level of the machine's own
// architecture (a cap of another architecture's ISA is none: "neon" on x86 means the best x86 path).
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

// The ISA in use: the best the CPU and OS support, capped by HYPERNOISE_ISA=scalar|avx2|avx512|neon and by
// set_isa_override() (same values).
Isa active_isa() noexcept;
const char* isa_name(Isa isa) noexcept;
// What the CPU (and OS) support, ignoring HYPERNOISE_ISA and the override.
Isa detected_isa() noexcept;
// Test hook: caps active_isa() to `cap` (an Isa value) on top of HYPERNOISE_ISA; a negative value removes it.
void set_isa_override(int cap) noexcept;
// What is wrong with HYPERNOISE_ISA ("" when unset or valid): an unknown name sets no cap.
std::string isa_env_problem();
// The ISAs this machine can run, from Scalar up to detected_isa().
int supported_isas(Isa* out) noexcept;  // writes at most 3, returns the count

}  // namespace cpu
}  // namespace hn
