// The CPU instruction set the kernels use: detected at run time, capped by HYPERNOISE_ISA (and by a test
// hook), so that one machine can run every code path at or below its own.
#pragma once

namespace hn {
namespace cpu {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The ISA in use: the best the CPU and OS support, capped by HYPERNOISE_ISA=scalar|avx2|avx512 and by
// set_isa_override().
Isa active_isa() noexcept;
const char* isa_name(Isa isa) noexcept;
// What the CPU (and OS) support, ignoring HYPERNOISE_ISA and the override.
Isa detected_isa() noexcept;
// Test hook: caps active_isa() to `cap` on top of HYPERNOISE_ISA; a negative value removes the cap.
void set_isa_override(int cap) noexcept;

}  // namespace cpu
}  // namespace hn
