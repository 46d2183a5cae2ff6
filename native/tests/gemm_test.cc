// Standalone SGEMM test: correctness against a float64 reference on every ISA path, transpose combination,
// odd and skinny shapes, alpha/beta, padded leading dimensions and epilogue coverage; bit-identical
// results for every thread split. `gemm_test --bench` times the shapes the hypernetwork uses; `--quick`
// leaves out the largest shapes (for runs under qemu).
//
// Build: the CMake target hn_gemm_test (cmake -S . -B build -DHYPERNOISE_ADDON=OFF && cmake --build build).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/gemm_kernels.h"
#include "cpu/isa_kernels.h"
#include "cpu/threadpool.h"
#include "check.h"

using hn::cpu::GemmEpilogue;
using hn::cpu::Isa;

namespace {


struct Case {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad;  // extra leading-dimension elements for A, B and C
};

std::string describe(const Case& cs) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%c%c m=%" PRId64 " n=%" PRId64 " k=%" PRId64 " alpha=%g beta=%g pad=%" PRId64,
                cs.ta ? 'T' : 'N', cs.tb ? 'T' : 'N', cs.m, cs.n, cs.k, cs.alpha, cs.beta, cs.pad);
  return buf;
}

// Operands stored as sgemm sees them, plus a float64 reference and a per-element error scale.
struct Operands {
  Case cs;
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c0;
  std::vector<double> ref, scale;

  explicit Operands(const Case& c, std::mt19937& rng) : cs(c) {
    const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
    const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
    lda = a_cols + c.pad;
    ldb = b_cols + c.pad;
    ldc = c.n + c.pad;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    a.assign(static_cast<size_t>(std::max<int64_t>(a_rows * lda, 1)), 0.0f);
    b.assign(static_cast<size_t>(std::max<int64_t>(b_rows * ldb, 1)), 0.0f);
    // Padding holds NaN: reading it would poison the result.
    for (int64_t i = 0; i < a_rows; ++i)
      for (int64_t j = 0; j < lda; ++j) a[i * lda + j] = j < a_cols ? u(rng) : std::nanf("");
    for (int64_t i = 0; i < b_rows; ++i)
      for (int64_t j = 0; j < ldb; ++j) b[i * ldb + j] = j < b_cols ? u(rng) : std::nanf("");
    c0.assign(static_cast<size_t>(c.m * ldc), 0.0f);
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < ldc; ++j)
        c0[i * ldc + j] = j >= c.n ? 12345.0f : c.beta == 0.0f ? std::nanf("") : u(rng);
    compute_reference();
  }

  float opa(int64_t i, int64_t p) const { return cs.ta ? a[p * lda + i] : a[i * lda + p]; }
  float opb(int64_t p, int64_t j) const { return cs.tb ? b[j * ldb + p] : b[p * ldb + j]; }

  void compute_reference() {
    const int64_t m = cs.m, n = cs.n, k = cs.k;
    ref.assign(static_cast<size_t>(m * n), 0.0);
    scale.assign(static_cast<size_t>(m * n), 0.0);
    std::vector<double> brow(static_cast<size_t>(n));
    for (int64_t i = 0; i < m; ++i) {
      double* r = ref.data() + i * n;
      double* s = scale.data() + i * n;
      for (int64_t p = 0; p < k; ++p) {
        const double av = opa(i, p);
        if (cs.tb)
          for (int64_t j = 0; j < n; ++j) brow[j] = b[j * ldb + p];
        else
          for (int64_t j = 0; j < n; ++j) brow[j] = b[p * ldb + j];
        for (int64_t j = 0; j < n; ++j) {
          r[j] += av * brow[j];
          s[j] += std::fabs(av * brow[j]);
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        r[j] *= cs.alpha;
        s[j] *= std::fabs(cs.alpha);
        if (cs.beta != 0.0f) {
          r[j] += static_cast<double>(cs.beta) * c0[i * ldc + j];
          s[j] += std::fabs(static_cast<double>(cs.beta) * c0[i * ldc + j]);
        }
      }
    }
  }
};

// Records which elements each apply() saw and their values, and doubles them (so the test also sees
// that epilogue writes stick).
class RecordingEpilogue final : public GemmEpilogue {
 public:
  RecordingEpilogue(int64_t m, int64_t n)
      : m_(m), n_(n), counts_(static_cast<size_t>(m * n), 0), seen_(static_cast<size_t>(m * n), 0.0f) {}
  void apply(int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* c, int64_t ldc) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (row0 < 0 || col0 < 0 || rows <= 0 || cols <= 0 || row0 + rows > m_ || col0 + cols > n_) {
      bad_ = true;
      return;
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const size_t idx = static_cast<size_t>((row0 + i) * n_ + col0 + j);
        ++counts_[idx];
        seen_[idx] = c[i * ldc + j];
        c[i * ldc + j] *= 2.0f;
      }
  }
  int64_t m_, n_;
  mutable std::mutex mu_;
  mutable std::vector<int> counts_;
  mutable std::vector<float> seen_;
  mutable bool bad_ = false;
};

bool same_bits(float x, float y) {
  uint32_t a, b;
  std::memcpy(&a, &x, 4);
  std::memcpy(&b, &y, 4);
  return a == b;
}

// Every path up to what the CPU supports and HYPERNOISE_ISA allows.
std::vector<Isa> isas_to_test() {
  hn::cpu::set_isa_override(-1);
  const Isa top = hn::cpu::active_isa();
  Isa all[4];
  const int count = hn::cpu::supported_isas(all);
  std::vector<Isa> v;
  for (int i = 0; i < count; ++i) {
    v.push_back(all[i]);
    if (all[i] == top) break;
  }
  return v;
}

// Runs one case on the current ISA: accuracy, NaN-freedom, untouched padding, determinism across task
// splits, and (optionally) epilogue coverage.
void check_case(const Operands& op, bool with_epilogue, bool thread_splits) {
  const Case& cs = op.cs;
  const std::string what = describe(cs) + " isa=" + hn::cpu::isa_name(hn::cpu::active_isa());
  std::vector<float> c = op.c0;
  hn::cpu::sgemm_serial(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, op.a.data(), op.lda, op.b.data(), op.ldb,
                        cs.beta, c.data(), op.ldc);
  const double eps = std::numeric_limits<float>::epsilon();
  // Random-sign sums: rounding error grows ~sqrt(k); a missing or doubled block errs by far more.
  const double tol = eps * (8.0 * std::sqrt(static_cast<double>(cs.k)) + 8.0);
  int bad = 0;
  double worst = 0.0;
  for (int64_t i = 0; i < cs.m; ++i) {
    for (int64_t j = 0; j < op.ldc; ++j) {
      const float v = c[i * op.ldc + j];
      if (j >= cs.n) {
        if (!same_bits(v, 12345.0f)) ++bad;
        continue;
      }
      const double r = op.ref[i * cs.n + j], s = op.scale[i * cs.n + j];
      const double err = std::fabs(static_cast<double>(v) - r);
      if (!(err <= tol * s + 1e-30)) {  // also catches NaN
        ++bad;
        worst = std::max(worst, std::isnan(v) ? 1e300 : err / (s + 1e-30));
      }
    }
  }
  EXPECT(bad == 0, "%s: %d bad elements (worst rel err %g, tol %g)", what.c_str(), bad, worst, tol);

  if (thread_splits) {
    for (int threads : {2, 3, 4, 7}) {
      std::vector<float> c2 = op.c0;
      hn::cpu::detail::sgemm_with_threads(threads, cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, op.a.data(), op.lda,
                                          op.b.data(), op.ldb, cs.beta, c2.data(), op.ldc, nullptr);
      int diff = 0;
      for (size_t i = 0; i < c.size(); ++i) diff += !same_bits(c[i], c2[i]);
      EXPECT(diff == 0, "%s: %d elements differ between 1 and %d threads", what.c_str(), diff, threads);
    }
    std::vector<float> c3 = op.c0;
    hn::cpu::sgemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, op.a.data(), op.lda, op.b.data(), op.ldb, cs.beta,
                   c3.data(), op.ldc);
    int diff = 0;
    for (size_t i = 0; i < c.size(); ++i) diff += !same_bits(c[i], c3[i]);
    EXPECT(diff == 0, "%s: %d elements differ between sgemm_serial and sgemm", what.c_str(), diff);
  }

  if (with_epilogue) {
    for (int threads : {1, 2, 3}) {
      RecordingEpilogue ep(cs.m, cs.n);
      std::vector<float> c2 = op.c0;
      hn::cpu::detail::sgemm_with_threads(threads, cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, op.a.data(), op.lda,
                                          op.b.data(), op.ldb, cs.beta, c2.data(), op.ldc, &ep);
      int miscount = 0, early = 0, lost = 0;
      for (int64_t i = 0; i < cs.m; ++i)
        for (int64_t j = 0; j < cs.n; ++j) {
          const size_t idx = static_cast<size_t>(i * cs.n + j);
          miscount += ep.counts_[idx] != 1;
          early += !same_bits(ep.seen_[idx], c[i * op.ldc + j]);
          lost += !same_bits(c2[i * op.ldc + j], 2.0f * c[i * op.ldc + j]);
        }
      EXPECT(!ep.bad_, "%s: epilogue block out of range", what.c_str());
      EXPECT(miscount == 0, "%s (%d threads): %d elements not seen exactly once by the epilogue", what.c_str(),
             threads, miscount);
      EXPECT(early == 0, "%s (%d threads): %d elements seen by the epilogue before their final value",
             what.c_str(), threads, early);
      EXPECT(lost == 0, "%s (%d threads): %d epilogue writes lost", what.c_str(), threads, lost);
    }
  }
}

void run_case_all_isas(const Case& cs, std::mt19937& rng, bool with_epilogue, bool thread_splits) {
  const Operands op(cs, rng);
  for (Isa isa : isas_to_test()) {
    hn::cpu::set_isa_override(static_cast<int>(isa));
    EXPECT(hn::cpu::active_isa() == isa, "override to %s not honoured", hn::cpu::isa_name(isa));
    check_case(op, with_epilogue, thread_splits);
  }
  hn::cpu::set_isa_override(-1);
}

// A single row (one sample: the row kernel across several B panels) gives the same bits as that row of a
// many-row product (the MR-row micro-kernels), with B packed on the fly and prepacked, in every K-chunk
// regime, with and without beta: a sample drawn alone equals the same sample drawn in a batch.
void check_single_rows(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Isa isa : isas_to_test()) {
    hn::cpu::set_isa_override(static_cast<int>(isa));
    for (bool ta : {false, true})
      for (int64_t n : {int64_t{1}, int64_t{31}, int64_t{64}, int64_t{128}, int64_t{129}, int64_t{200}, int64_t{784}})
        for (int64_t k : {int64_t{1}, int64_t{17}, int64_t{300}, int64_t{600}})
          for (float beta : {0.0f, 0.5f}) {
            const int64_t m = 29;
            std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), c0(static_cast<size_t>(m * n));
            for (float& v : a) v = normal(rng);
            for (float& v : b) v = normal(rng);
            for (float& v : c0) v = normal(rng);
            const int64_t lda = ta ? m : k;
            const hn::cpu::PackedB packed(false, k, n, b.data(), n);
            for (bool prepacked : {false, true}) {
              std::vector<float> all = c0;
              if (prepacked)
                hn::cpu::sgemm_packed(ta, m, n, k, 1.5f, a.data(), lda, packed, beta, all.data(), n);
              else
                hn::cpu::sgemm(ta, false, m, n, k, 1.5f, a.data(), lda, b.data(), n, beta, all.data(), n);
              int diff = 0;
              for (int64_t i = 0; i < m; ++i) {
                std::vector<float> row(c0.begin() + i * n, c0.begin() + (i + 1) * n);
                // Row i of op(A): for ta, column i of the stored k x m matrix (lda = m).
                const float* ai = ta ? a.data() + i : a.data() + i * k;
                if (prepacked)
                  hn::cpu::sgemm_packed(ta, 1, n, k, 1.5f, ai, lda, packed, beta, row.data(), n);
                else
                  hn::cpu::sgemm(ta, false, 1, n, k, 1.5f, ai, lda, b.data(), n, beta, row.data(), n);
                for (int64_t j = 0; j < n; ++j) diff += !same_bits(row[static_cast<size_t>(j)], all[static_cast<size_t>(i * n + j)]);
              }
              EXPECT(diff == 0, "isa=%s ta=%d n=%lld k=%lld beta=%g prepacked=%d: %d elements of single-row products "
                     "differ from the same rows of the %lld-row product", hn::cpu::isa_name(isa), ta,
                     static_cast<long long>(n), static_cast<long long>(k), beta, prepacked, diff, static_cast<long long>(m));
            }
          }
  }
  hn::cpu::set_isa_override(-1);
}

// An epilogue that runs a nested sgemm on the calling thread: the outer call's packing buffers must
// survive it.
class NestedEpilogue final : public GemmEpilogue {
 public:
  void apply(int64_t, int64_t, int64_t, int64_t, float*, int64_t) const override {
    float a[3 * 40], b[40 * 5], c[3 * 5];
    for (int i = 0; i < 120; ++i) a[i] = static_cast<float>(i % 7) - 3.0f;
    for (int i = 0; i < 200; ++i) b[i] = static_cast<float>(i % 5) - 2.0f;
    hn::cpu::sgemm_serial(false, false, 3, 5, 40, 1.0f, a, 40, b, 5, 0.0f, c, 5);
    hn::cpu::sgemm(false, false, 3, 5, 40, 1.0f, a, 40, b, 5, 0.0f, c, 5);
  }
};

// The packing routines against their definition (gemm_kernels.h), including paths sgemm itself may not
// reach on this machine (e.g. the transposing A packer when row-major A panels are available).
void check_packers() {
  using namespace hn::cpu::detail;
  std::vector<const KernelSet*> sets;
  Isa all[4];
  const int count = hn::cpu::supported_isas(all);
  for (int i = 0; i < count; ++i) sets.push_back(hn::cpu::isa_kernels(all[i]).gemm);
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const KernelSet* ks : sets) {
    for (int which = 0; which < 3; ++which) {
      const PackFn fn = which == 0 ? ks->pack_a : which == 1 ? ks->pack_b : ks->pack_a_rows;
      if (!fn) continue;
      const int w = which == 1 ? ks->nr : ks->mr;
      for (bool kcont : {false, true}) {
        if (which == 2 && !kcont) continue;  // row-major A panels are only for A read along K
        for (int64_t lines : {1, 5, 13, 14, 16, 31, 32, 33, 70})
          for (int64_t kc : {1, 7, 16, 17, 64, 100, 256}) {
            // ld: minimal, odd, and a power of two (the packers take a different path there)
            for (int64_t ld : {kcont ? kc : lines, (kcont ? kc : lines) + 3, int64_t{1024}}) {
              const int64_t outer = kcont ? lines : kc;
              std::vector<float> src(static_cast<size_t>(outer * ld + 64));
              for (float& x : src) x = u(rng);
              const int64_t panels = (lines + w - 1) / w;
              const int64_t pstride = which == 2 ? w * ks->a_row_stride : w * kc;
              std::vector<float> dst(static_cast<size_t>(panels * pstride + 64 + 16), std::nanf(""));
              // 64-byte aligned start inside the vector
              float* d = dst.data();
              while (reinterpret_cast<uintptr_t>(d) % 64) ++d;
              fn(src.data(), ld, kcont, lines, kc, d);
              int bad = 0;
              for (int64_t p = 0; p < panels; ++p)
                for (int64_t l = 0; l < w; ++l)
                  for (int64_t k = 0; k < kc; ++k) {
                    const int64_t line = p * w + l;
                    const float want =
                        line >= lines ? 0.0f : kcont ? src[line * ld + k] : src[k * ld + line];
                    const float got = which == 2 ? d[p * pstride + l * ks->a_row_stride + k] : d[p * pstride + k * w + l];
                    bad += !same_bits(want, got);
                  }
              EXPECT(bad == 0, "%s pack %d (W=%d) k_contiguous=%d lines=%" PRId64 " kc=%" PRId64 " ld=%" PRId64
                     ": %d wrong", hn::cpu::isa_name(ks->isa), which, w, kcont, lines, kc, ld, bad);
            }
          }
      }
    }
  }
}

bool g_quick = false;  // --quick: no large shapes (for runs under an emulator)

int run_tests() {
  std::mt19937 rng(12345);
  std::printf("detected ISA: %s, HYPERNOISE_ISA cap -> %s; testing:",
              hn::cpu::isa_name(hn::cpu::detected_isa()), hn::cpu::isa_name(hn::cpu::active_isa()));
  for (Isa isa : isas_to_test()) std::printf(" %s", hn::cpu::isa_name(isa));
  std::printf("; pool threads: %d\n", hn::cpu::global_pool().size());
  check_packers();
  check_single_rows(rng);

  const int64_t sizes[] = {1, 2, 3, 7, 13, 17, 31, 33, 65, 127, 129};
  const float alphas[] = {1.0f, 0.5f, -1.5f, 1.0f, 2.0f};
  const float betas[] = {0.0f, 0.0f, 1.0f, 0.25f, -1.0f};
  const int64_t pads[] = {0, 3, 16, 1};
  int idx = 0;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    // Every (m, n) pair with a few K (including several K chunks with a ragged last one).
    for (int64_t m : sizes)
      for (int64_t n : sizes)
        for (int64_t k : {int64_t{1}, int64_t{17}, int64_t{129}}) {
          ++idx;
          run_case_all_isas(Case{ta, tb, m, n, k, alphas[idx % 5], betas[idx % 5], pads[idx % 4]}, rng,
                            idx % 7 == 0, idx % 3 == 0);
        }
    for (int64_t k : sizes)
      for (auto mn : {std::pair<int64_t, int64_t>{13, 33}, {129, 65}, {31, 127}}) {
        ++idx;
        run_case_all_isas(Case{ta, tb, mn.first, mn.second, k, alphas[idx % 5], betas[idx % 5], pads[idx % 4]},
                          rng, true, true);
      }
    for (int64_t k : {int64_t{255}, int64_t{257}, int64_t{600}, int64_t{1000}}) {
      ++idx;
      run_case_all_isas(Case{ta, tb, 77, 95, k, alphas[idx % 5], betas[idx % 5], pads[idx % 4]}, rng, true, true);
    }
    // Degenerate scalars: alpha == 0 (A, B unread), k == 0.
    run_case_all_isas(Case{ta, tb, 33, 65, 20, 0.0f, 0.0f, 1}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 33, 65, 20, 0.0f, -2.0f, 0}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 33, 65, 0, 1.0f, 0.5f, 2}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 33, 65, 0, 1.0f, 0.0f, 2}, rng, true, true);
    // Larger and skinny shapes (the hypernetwork's bottleneck MLP); --quick (for emulated runs) keeps a
    // shorter skinny one that still crosses several K chunks.
    if (g_quick) {
      run_case_all_isas(Case{ta, tb, 64, 40, 1100, 1.0f, 0.0f, 0}, rng, true, true);
      continue;
    }
    run_case_all_isas(Case{ta, tb, 300, 517, 700, 1.0f, 0.0f, 5}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 64, 128, 16384, 1.0f, 0.0f, 0}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 64, 16384, 128, 1.0f, 1.0f, 0}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 16384, 128, 64, 0.5f, 1.0f, 0}, rng, true, true);
    run_case_all_isas(Case{ta, tb, 128, 16384, 64, 1.0f, 0.0f, 4}, rng, true, true);
  }

  {  // Nested sgemm from inside an epilogue (shared thread-local scratch must not be clobbered).
    Case cs{false, true, 200, 300, 700, 1.0f, 0.0f, 0};
    const Operands op(cs, rng);
    std::vector<float> c1 = op.c0, c2 = op.c0;
    NestedEpilogue nested;
    hn::cpu::sgemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, 1.0f, op.a.data(), op.lda, op.b.data(), op.ldb, 0.0f,
                   c1.data(), op.ldc);
    hn::cpu::sgemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, 1.0f, op.a.data(), op.lda, op.b.data(), op.ldb, 0.0f,
                   c2.data(), op.ldc, &nested);
    int diff = 0;
    for (size_t i = 0; i < c1.size(); ++i) diff += !same_bits(c1[i], c2[i]);
    EXPECT(diff == 0, "nested sgemm in an epilogue changed the outer result (%d elements)", diff);
  }

  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- benchmark ----------------------------

// Fastest and median time over the runs (the fastest is the figure least disturbed by other processes).
struct Timing {
  double best, median;
};

struct BenchShape {
  const char* note;
  bool ta, tb;
  int64_t m, n, k;
};

Timing time_gemm(const BenchShape& s, bool serial, const std::vector<float>& a, const std::vector<float>& b,
                 std::vector<float>& c) {
  const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  auto once = [&] {
    if (serial)
      hn::cpu::sgemm_serial(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    else
      hn::cpu::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
  };
  using clock = std::chrono::steady_clock;
  once();
  std::vector<double> times;
  const auto start = clock::now();
  while (times.size() < 5 || (std::chrono::duration<double>(clock::now() - start).count() < 1.0 &&
                              times.size() < 300)) {
    const auto t0 = clock::now();
    once();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return Timing{times.front(), times[times.size() / 2]};
}

int run_bench() {
  const double peak = hn::cpu::measure_peak_gflops_per_core(0.5);
  const int threads = hn::cpu::global_pool().size();
  std::printf("isa %s, measured peak %.1f GFLOP/s per core, pool threads %d\n",
              hn::cpu::isa_name(hn::cpu::active_isa()), peak, threads);
  const BenchShape shapes[] = {
      {"square", false, false, 1024, 1024, 1024},
      {"square", false, false, 2048, 2048, 2048},
      {"fwd L1 (x W1^T)", false, true, 64, 128, 16384},
      {"bwd dx L2", false, false, 64, 128, 16384},
      {"fwd L2 (h W2^T)", false, true, 64, 16384, 128},
      {"bwd dx L1", false, false, 64, 16384, 128},
      {"bwd dW2", true, false, 16384, 128, 64},
      {"bwd dW1", true, false, 128, 16384, 64},
      {"", false, false, 16384, 128, 64},
      {"", false, false, 128, 16384, 64},
  };
  std::printf("GFLOP/s from the fastest run (median in brackets); %%peak = fastest / (peak x threads used)\n");
  std::printf("%-16s %2s %6s %6s %6s | %16s %6s | %16s %6s (x%d)\n", "shape", "op", "m", "n", "k", "1 thread",
              "%peak", "pool", "%peak", threads);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const BenchShape& s : shapes) {
    std::vector<float> a(static_cast<size_t>(s.m * s.k)), b(static_cast<size_t>(s.k * s.n)),
        c(static_cast<size_t>(s.m * s.n));
    for (float& x : a) x = u(rng);
    for (float& x : b) x = u(rng);
    const double gflop = 2.0 * s.m * s.n * s.k * 1e-9;
    const Timing t1 = time_gemm(s, true, a, b, c), tp = time_gemm(s, false, a, b, c);
    std::printf("%-16s %c%c %6" PRId64 " %6" PRId64 " %6" PRId64 " | %7.1f (%6.1f) %5.1f%% | %7.1f (%6.1f) %5.1f%%\n",
                s.note, s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, gflop / t1.best, gflop / t1.median,
                100.0 * gflop / t1.best / peak, gflop / tp.best, gflop / tp.median,
                100.0 * gflop / tp.best / (peak * threads));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) return run_bench();
  g_quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  return run_tests();
}
