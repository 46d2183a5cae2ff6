// Measures the single-core fp32 FMA rate with the vector width the SGEMM micro-kernel uses, so
// benchmarks can report fractions of a peak measured on this machine rather than a datasheet figure.
#include <immintrin.h>

#include <chrono>

#include "gemm.h"

namespace hn {
namespace cpu {
namespace {

// 12 independent accumulator chains: more than FMA latency x issue width (4 x 2 on current x86), so
// the loop is throughput-bound. acc = acc * x + y with x < 1 converges, so values stay normal.
constexpr int kChains = 12;
constexpr int64_t kIters = 1 << 16;

__attribute__((target("avx512f,fma"))) double run_avx512(int64_t rounds) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t it = 0; it < kIters; ++it) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    // Keeps the compiler from collapsing or hoisting the rounds.
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[5]), "+v"(acc[11]));
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float v[16];  // (not _mm512_reduce_add_ps: spurious -Wuninitialized with GCC 12's headers)
  _mm512_store_ps(v, s);
  return static_cast<double>(v[0] + v[15]);
}

__attribute__((target("avx2,fma"))) double run_avx2(int64_t rounds) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t it = 0; it < kIters; ++it) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[5]), "+x"(acc[11]));
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float v[8];
  _mm256_store_ps(v, s);
  return static_cast<double>(v[0] + v[7]);
}

// Portable fallback: scalar multiply + add chains (2 flops per pair, counted as one "FMA").
double run_scalar(int64_t rounds) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 1.0f + 0.01f * static_cast<float>(i);
  const float x = 0.999999f, y = 1e-6f;
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t it = 0; it < kIters; ++it) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * x + y;
    }
    __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[5]), "+x"(acc[11]));
  }
  float s = 0.0f;
  for (int i = 0; i < kChains; ++i) s += acc[i];
  return static_cast<double>(s);
}

}  // namespace

double measure_peak_gflops_per_core(double seconds) {
  const Isa isa = active_isa();
  const int lanes = isa == Isa::Avx512 ? 16 : isa == Isa::Avx2 ? 8 : 1;
  auto run = [isa](int64_t rounds) {
    return isa == Isa::Avx512 ? run_avx512(rounds) : isa == Isa::Avx2 ? run_avx2(rounds) : run_scalar(rounds);
  };
  using clock = std::chrono::steady_clock;
  volatile double sink = run(4);  // warm-up: lets the core reach its sustained clock
  int64_t rounds = 8;
  double best = 0.0;
  const auto start = clock::now();
  // Repeats short timed runs and keeps the best, so a preemption does not drag the figure down.
  for (;;) {
    const auto t0 = clock::now();
    sink = sink + run(rounds);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    const double flops = 2.0 * lanes * kChains * static_cast<double>(kIters) * static_cast<double>(rounds);
    if (dt > 0 && flops / dt > best) best = flops / dt;
    if (dt < 0.01) rounds *= 2;
    if (std::chrono::duration<double>(clock::now() - start).count() >= seconds) break;
  }
  (void)sink;
  return best * 1e-9;
}

}  // namespace cpu
}  // namespace hn
