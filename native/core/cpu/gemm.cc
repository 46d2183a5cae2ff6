// SGEMM driver: Goto/BLIS-style blocking, packing, task split over the thread pool, ISA dispatch and
// epilogue calls, plus the portable scalar micro-kernel.
//
// Loop nest of one task (a rectangle of C):
//   for r0 in rows, step mb            A panel (mb x kc, packed) is reused by every column block
//     for p0 in K, step kc             K chunks: fixed by K alone, so sums never depend on threads
//       pack A(r0.., p0..)
//       for c0 in cols, step nb        B block (kc x nb, packed) stays in L2
//         pack B(p0.., c0..)
//         for ir, step MR              A micro-panel (MR x kc) stays in L1
//           for jr, step NR            B micro-panels stream from L2
//             micro-kernel
//           last K chunk: epilogue on C[r0+ir : +mr, c0 : +nc]
// The broadcast operand (A) sits in L1 and the vector operand (B) streams from L2, the arrangement the
// row-major 14x32 kernel wants.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

#include "gemm.h"
#include "gemm_kernels.h"
#include "threadpool.h"

namespace hn {
namespace cpu {
namespace detail {
namespace {

// ---------------------------------------------------------------- portable fallback ----------------

constexpr int kScalarMr = 4;
constexpr int kScalarNr = 8;

template <int W>
void pack_scalar(const float* src, int64_t ld, bool k_contiguous, int64_t lines, int64_t kc, float* dst) {
  const int64_t panels = (lines + W - 1) / W;
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * kc * W;
    const int64_t l0 = p * W;
    const int64_t valid = std::min<int64_t>(W, lines - l0);
    for (int64_t k = 0; k < kc; ++k)
      for (int l = 0; l < W; ++l)
        dp[k * W + l] = l < valid ? (k_contiguous ? src[(l0 + l) * ld + k] : src[k * ld + l0 + l]) : 0.0f;
  }
}

void kernel_scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                   float alpha, float beta, Update mode) {
  float acc[kScalarMr][kScalarNr] = {};
  for (int64_t p = 0; p < kc; ++p, a += kScalarMr, b += kScalarNr)
    for (int r = 0; r < kScalarMr; ++r)
      for (int j = 0; j < kScalarNr; ++j) acc[r][j] += a[r] * b[j];
  for (int r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < nr; ++j) {
      const float x = alpha * acc[r][j];
      if (mode == Update::Overwrite)
        cr[j] = x;
      else if (mode == Update::Scale)
        cr[j] = x + beta * cr[j];
      else
        cr[j] = cr[j] + x;
    }
  }
}

// ---------------------------------------------------------------- scratch ---------------------------

struct FreeDeleter {
  void operator()(float* p) const noexcept { std::free(p); }
};

// Grow-only 64-byte-aligned float buffer.
class AlignedFloats {
 public:
  float* reserve(size_t n) {
    if (n > cap_) {
      const size_t bytes = ((n + 64) * sizeof(float) + 63) / 64 * 64;  // + slack, rounded for aligned_alloc
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      ptr_.reset(p);
      cap_ = n;
    }
    return ptr_.get();
  }

 private:
  std::unique_ptr<float, FreeDeleter> ptr_;
  size_t cap_ = 0;
};

struct Scratch {
  AlignedFloats a, b;
  bool busy = false;
};

// Per-thread packing buffers, keyed by the thread that runs the task (the pool may run tasks on a
// caller's thread). An epilogue that itself calls sgemm on the same thread finds them busy and gets
// private ones instead of clobbering the outer call's panels.
thread_local Scratch tl_scratch;

class ScratchLease {
 public:
  ScratchLease() {
    if (!tl_scratch.busy) {
      s_ = &tl_scratch;
    } else {
      own_ = std::make_unique<Scratch>();
      s_ = own_.get();
    }
    s_->busy = true;
  }
  ~ScratchLease() {
    if (s_ == &tl_scratch) tl_scratch.busy = false;
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch& get() { return *s_; }

 private:
  Scratch* s_ = nullptr;
  std::unique_ptr<Scratch> own_;
};

// ---------------------------------------------------------------- driver ----------------------------

struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  const GemmEpilogue* epilogue;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits `len` (a multiple of `unit` except at the end) into blocks of at most about `max_block`,
// equal-sized in units of `unit`.
int64_t balanced_block(int64_t len, int64_t max_block, int64_t unit) {
  const int64_t blocks = ceil_div(len, max_block);
  return ceil_div(ceil_div(len, blocks), unit) * unit;
}

// C = beta * C on a strip (k == 0 or alpha == 0: A and B are not read, as in BLAS).
void scale_strip(float* c, int64_t ldc, int64_t rows, int64_t cols, float beta) {
  for (int64_t i = 0; i < rows; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.0f)
      std::fill(ci, ci + cols, 0.0f);
    else
      for (int64_t j = 0; j < cols; ++j) ci[j] = beta * ci[j];
  }
}

// Computes the rectangle C[i0:i1, j0:j1] completely (all K chunks), then its epilogue calls.
void run_tile(const KernelSet& ks, const Problem& pr, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
              int64_t mb, int64_t nb) {
  const int mr_max = ks.mr, nr_max = ks.nr;
  if (pr.k == 0 || pr.alpha == 0.0f) {
    for (int64_t r0 = i0; r0 < i1; r0 += mb)
      for (int64_t c0 = j0; c0 < j1; c0 += nb) {
        const int64_t nc = std::min(nb, j1 - c0);
        for (int64_t ir = r0; ir < std::min(r0 + mb, i1); ir += mr_max) {
          const int64_t mr = std::min<int64_t>(mr_max, std::min(r0 + mb, i1) - ir);
          float* cp = pr.c + ir * pr.ldc + c0;
          scale_strip(cp, pr.ldc, mr, nc, pr.beta);
          if (pr.epilogue) pr.epilogue->apply(ir, mr, c0, nc, cp, pr.ldc);
        }
      }
    return;
  }
  const int64_t kc_len = k_chunk(ks, pr.k);
  ScratchLease lease;
  float* abuf = lease.get().a.reserve(static_cast<size_t>(ceil_div(mb, mr_max) * mr_max * kc_len));
  float* bbuf = lease.get().b.reserve(static_cast<size_t>(ceil_div(nb, nr_max) * nr_max * kc_len));
  for (int64_t r0 = i0; r0 < i1; r0 += mb) {
    const int64_t mc = std::min(mb, i1 - r0);
    for (int64_t p0 = 0; p0 < pr.k; p0 += kc_len) {
      const int64_t kc = std::min(kc_len, pr.k - p0);
      const bool last = p0 + kc >= pr.k;
      const Update mode = p0 > 0 ? Update::Accumulate : pr.beta == 0.0f ? Update::Overwrite : Update::Scale;
      if (pr.trans_a)  // A stored K x M
        ks.pack_a(pr.a + p0 * pr.lda + r0, pr.lda, false, mc, kc, abuf);
      else
        ks.pack_a(pr.a + r0 * pr.lda + p0, pr.lda, true, mc, kc, abuf);
      for (int64_t c0 = j0; c0 < j1; c0 += nb) {
        const int64_t nc = std::min(nb, j1 - c0);
        if (pr.trans_b)  // B stored N x K
          ks.pack_b(pr.b + c0 * pr.ldb + p0, pr.ldb, true, nc, kc, bbuf);
        else
          ks.pack_b(pr.b + p0 * pr.ldb + c0, pr.ldb, false, nc, kc, bbuf);
        for (int64_t ir = 0; ir < mc; ir += mr_max) {
          const int mr = static_cast<int>(std::min<int64_t>(mr_max, mc - ir));
          const float* ap = abuf + (ir / mr_max) * kc * mr_max;
          float* crow = pr.c + (r0 + ir) * pr.ldc + c0;
          for (int64_t jr = 0; jr < nc; jr += nr_max) {
            const int nr = static_cast<int>(std::min<int64_t>(nr_max, nc - jr));
            ks.kernel(kc, ap, bbuf + (jr / nr_max) * kc * nr_max, crow + jr, pr.ldc, mr, nr, pr.alpha, pr.beta,
                      mode);
          }
          // The strip is final and still in cache.
          if (last && pr.epilogue) pr.epilogue->apply(r0 + ir, mr, c0, nc, crow, pr.ldc);
        }
      }
    }
  }
}

struct Plan {
  int64_t gm = 1, gn = 1;  // task grid over rows x columns of C
  int64_t mb = 0, nb = 0;  // in-task block sizes
};

// Picks the task grid that minimises a rough time model of the slowest task: its multiply-adds plus its
// packing (weighted ~8x per element: packing moves data, the kernel does 16 FMAs per cycle) plus a fixed
// cost per extra task (waking a worker). Tiles are whole micro-tiles, so splitting adds no edge tiles.
// Only mb/nb and the grid depend on the thread count; K chunks never do.
Plan make_plan(const KernelSet& ks, int64_t m, int64_t n, int64_t k, int threads) {
  const int64_t mt = ceil_div(m, ks.mr), nt = ceil_div(n, ks.nr);
  const double kk = static_cast<double>(std::max<int64_t>(k, 1));
  constexpr double kPackWeight = 8.0;
  constexpr double kTaskCost = 1.5e6;  // ~25 us of FMA work: a worker wake-up plus cache warm-up
  Plan best;
  double best_cost = -1.0;
  for (int64_t gm = 1; gm <= threads && gm <= mt; ++gm) {
    for (int64_t gn = 1; gm * gn <= threads && gn <= nt; ++gn) {
      const int64_t rows = std::min(ceil_div(mt, gm) * ks.mr, m);
      const int64_t cols = std::min(ceil_div(nt, gn) * ks.nr, n);
      const int64_t mb = balanced_block(rows, ks.mb_max, ks.mr);
      const int64_t nb = balanced_block(cols, ks.nb_max, ks.nr);
      const double compute = static_cast<double>(ceil_div(rows, ks.mr) * ks.mr) *
                             static_cast<double>(ceil_div(cols, ks.nr) * ks.nr) * kk;
      const double pack = kPackWeight * kk *
                          (static_cast<double>(rows) + static_cast<double>(cols * ceil_div(rows, mb)));
      const double cost = compute + pack + kTaskCost * static_cast<double>(gm * gn - 1);
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        best.gm = gm;
        best.gn = gn;
        best.mb = mb;
        best.nb = nb;
      }
    }
  }
  return best;
}

const KernelSet& active_kernels() {
  switch (gemm_isa()) {
    case Isa::Avx512: return avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

void sgemm_impl(int threads, bool run_on_pool, const Problem& pr) {
  if (pr.m <= 0 || pr.n <= 0) return;
  const KernelSet& ks = active_kernels();
  const Plan plan = make_plan(ks, pr.m, pr.n, pr.k, std::max(threads, 1));
  const int64_t mt = ceil_div(pr.m, ks.mr), nt = ceil_div(pr.n, ks.nr);
  auto task = [&](int64_t t) {
    int64_t tb, te, ub, ue;
    chunk_range(mt, plan.gm, t / plan.gn, &tb, &te);
    chunk_range(nt, plan.gn, t % plan.gn, &ub, &ue);
    run_tile(ks, pr, tb * ks.mr, std::min(te * ks.mr, pr.m), ub * ks.nr, std::min(ue * ks.nr, pr.n), plan.mb,
             plan.nb);
  };
  const int64_t tasks = plan.gm * plan.gn;
  if (tasks == 1 || !run_on_pool) {
    for (int64_t t = 0; t < tasks; ++t) task(t);
  } else {
    global_pool().parallel_for(tasks, task);
  }
}

}  // namespace

const KernelSet& scalar_kernels() {
  static const KernelSet ks{Isa::Scalar, kScalarMr, kScalarNr, 256, 512, 256,
                            &pack_scalar<kScalarMr>, &pack_scalar<kScalarNr>, &kernel_scalar};
  return ks;
}

int64_t k_chunk(const KernelSet& ks, int64_t k) noexcept {
  if (k <= ks.kc_max) return std::max<int64_t>(k, 1);
  const int64_t chunks = ceil_div(k, ks.kc_max);
  return ceil_div(ceil_div(k, chunks), 16) * 16;  // multiples of 16 keep the transposing packers on full blocks
}

void sgemm_with_threads(int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                        int64_t ldc, const GemmEpilogue* epilogue) {
  sgemm_impl(threads, true,
             Problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue});
}

}  // namespace detail

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue* epilogue) {
  detail::sgemm_impl(global_pool().size(), true,
                     detail::Problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue});
}

void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                  const GemmEpilogue* epilogue) {
  detail::sgemm_impl(1, false,
                     detail::Problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue});
}

}  // namespace cpu
}  // namespace hn
