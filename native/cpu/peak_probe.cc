// Measures the single-core fp32 FMA rate with the vector width of the ISA in use (the timed loop is
// peak_probe_impl.h, one per ISA), so benchmarks can report fractions of a peak measured on this machine
// rather than a datasheet figure.
#include <chrono>

#include "gemm.h"
#include "isa_kernels.h"

namespace hn {
namespace cpu {

double measure_peak_gflops_per_core(double seconds, bool float64) {
  const IsaKernels& k = active_kernels();
  const auto chains = float64 ? k.fma_chains_f64 : k.fma_chains;
  using clock = std::chrono::steady_clock;
  chains(4);  // warm-up: lets the core reach its sustained clock
  int64_t rounds = 8;
  double best = 0.0;
  const auto start = clock::now();
  // Repeats short timed runs and keeps the best, so a preemption does not drag the figure down.
  for (;;) {
    const auto t0 = clock::now();
    const double flops = chains(rounds);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > 0 && flops / dt > best) best = flops / dt;
    if (dt < 0.01) rounds *= 2;
    if (std::chrono::duration<double>(clock::now() - start).count() >= seconds) break;
  }
  return best * 1e-9;
}

}  // namespace cpu
}  // namespace hn
