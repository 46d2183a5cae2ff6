// SGEMM driver: Goto/BLIS-style blocking, packing, task split over the thread pool, ISA dispatch and
// epilogue calls. The packing routines and micro-kernels are in gemm_kernels_impl.h, one instantiation per
// ISA (isa_scalar.cc, isa_avx2.cc, isa_avx512.cc).
//
// C is cut into a grid of at most `threads` rectangles (whole micro-tiles; make_plan), one task each;
// each task runs the full K loop on its rectangle with its own packing buffers, so no task waits for
// another and K is never split. Loop nest of one task:
//   for r0 in rows, step mb            A panel (mb x kc, packed) is reused by every column block
//     for p0 in K, step kc             K chunks: fixed by K alone, so sums never depend on threads
//       pack A(r0.., p0..)
//       for c0 in cols, step nb        B block (kc x nb, packed) stays in L2
//         pack B(p0.., c0..)
//         for ir, step MR              A micro-panel (MR x kc) stays in L1
//           for jr, step NR            B micro-panels stream from L2; the kernel also prefetches the
//             micro-kernel             sources of the next packs
//           last K chunk: epilogue on C[r0+ir : +mr, c0 : +nc]
// The broadcast operand (A) sits in L1 and the vector operand (B) streams from L2, the arrangement the
// row-major 14x32 kernel wants. A read along K is packed row by row (a copy, no transpose).
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>

#include "gemm.h"

#include "block_cache.h"
#include "gemm_kernels.h"
#include "isa_kernels.h"
#include "threadpool.h"

namespace hn {
namespace cpu {
namespace detail {
namespace {

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
  const PackedB* packed_b = nullptr;  // B already packed (then b is unused)
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

// A source rectangle a pack reads: `rows` rows of `cols` floats, `ld` apart.
struct Region {
  const float* p = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
};

Region a_region(const Problem& pr, int64_t r0, int64_t mc, int64_t p0, int64_t kc) {
  if (pr.trans_a) return Region{pr.a + p0 * pr.lda + r0, kc, mc, pr.lda};  // A stored K x M
  return Region{pr.a + r0 * pr.lda + p0, mc, kc, pr.lda};
}

Region b_region(const Problem& pr, int64_t p0, int64_t kc, int64_t c0, int64_t nc) {
  if (pr.trans_b) return Region{pr.b + c0 * pr.ldb + p0, nc, kc, pr.ldb};  // B stored N x K
  return Region{pr.b + p0 * pr.ldb + c0, kc, nc, pr.ldb};
}

// Software prefetch of the next packs' sources, spread over the micro-kernel calls of the current block:
// packing is otherwise a separate memory-bound phase (the skinny shapes stream ~10 MB per call from L3 or
// DRAM), while during the kernel the load ports and memory bus are mostly idle. With rows a large power of
// two apart (e.g. ld = 16384) L2 cannot hold many of the prefetched lines, but its victims land in L3,
// which still beats DRAM.
class Prefetcher {
 public:
  void start(const Region& r0, const Region& r1, int64_t steps) {
    int64_t lines = 0;
    for (int i = 0; i < 2; ++i) {
      const Region& r = i == 0 ? r0 : r1;
      PrefetchCursor& c = cursors_[i];
      c.row = reinterpret_cast<const char*>(r.p);
      c.ld_bytes = r.ld * static_cast<int64_t>(sizeof(float));
      c.row_bytes = r.cols * static_cast<int64_t>(sizeof(float));
      c.offset = 0;
      c.rows_left = r.p != nullptr && r.cols > 0 ? r.rows : 0;
      lines += c.rows_left * ceil_div(c.row_bytes, 64);
    }
    per_step_ = ceil_div(lines, std::max<int64_t>(steps, 1));
  }
  // The cursor for the next kernel call and how many lines it should fetch.
  PrefetchCursor* next(int64_t kc, int64_t* npf) {
    *npf = std::min(per_step_, kc);
    return cursors_[0].rows_left > 0 ? &cursors_[0] : &cursors_[1];
  }

 private:
  PrefetchCursor cursors_[2];
  int64_t per_step_ = 0;
};

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
  // A read along K: row-major micro-panels (a copy) where the ISA has them, else k-major (a transpose).
  const bool a_rows = !pr.trans_a && ks.pack_a_rows != nullptr;
  const PackFn pack_a = a_rows ? ks.pack_a_rows : ks.pack_a;
  const KernelFn kernel = a_rows ? ks.kernel_a_rows : ks.kernel;
  const RowKernelFn row_kernel = a_rows ? ks.row_kernel_a_rows : ks.row_kernel;
  const int64_t a_panel_floats = mr_max * (a_rows ? ks.a_row_stride : kc_len);
  float* abuf = lease.get().a.reserve(static_cast<size_t>(ceil_div(mb, mr_max) * a_panel_floats));
  float* bbuf = pr.packed_b ? nullptr : lease.get().b.reserve(static_cast<size_t>(ceil_div(nb, nr_max) * nr_max * kc_len));
  Prefetcher prefetcher;
  for (int64_t r0 = i0; r0 < i1; r0 += mb) {
    const int64_t mc = std::min(mb, i1 - r0);
    for (int64_t p0 = 0; p0 < pr.k; p0 += kc_len) {
      const int64_t kc = std::min(kc_len, pr.k - p0);
      const bool last = p0 + kc >= pr.k;
      const Update mode = p0 > 0 ? Update::Accumulate : pr.beta == 0.0f ? Update::Overwrite : Update::Scale;
      const Region ar = a_region(pr, r0, mc, p0, kc);
      pack_a(ar.p, ar.ld, !pr.trans_a, mc, kc, abuf);
      const int64_t a_panel_stride = a_rows ? a_panel_floats : mr_max * kc;
      for (int64_t c0 = j0; c0 < j1; c0 += nb) {
        const int64_t nc = std::min(nb, j1 - c0);
        // Prepacked B: the block's panels are already in place (c0 is a multiple of nr_max).
        const float* bblock = bbuf;
        if (pr.packed_b) {
          bblock = pr.packed_b->chunk(p0) + (c0 / nr_max) * kc * nr_max;
        } else {
          const Region br = b_region(pr, p0, kc, c0, nc);
          ks.pack_b(br.p, br.ld, pr.trans_b, nc, kc, bbuf);
        }
        // What gets packed next, in loop order.
        Region next_a, next_b;
        if (c0 + nb < j1) {
          next_b = b_region(pr, p0, kc, c0 + nb, std::min(nb, j1 - c0 - nb));
        } else if (p0 + kc < pr.k) {
          const int64_t kn = std::min(kc_len, pr.k - p0 - kc);
          next_a = a_region(pr, r0, mc, p0 + kc, kn);
          next_b = b_region(pr, p0 + kc, kn, j0, std::min(nb, j1 - j0));
        } else if (r0 + mb < i1) {
          next_a = a_region(pr, r0 + mb, std::min(mb, i1 - r0 - mb), 0, std::min(kc_len, pr.k));
          next_b = b_region(pr, 0, std::min(kc_len, pr.k), j0, std::min(nb, j1 - j0));
        }
        if (pr.packed_b) next_b = Region{};
        prefetcher.start(next_a, next_b, ceil_div(mc, mr_max) * ceil_div(nc, nr_max));
        for (int64_t ir = 0; ir < mc; ir += mr_max) {
          const int mr = static_cast<int>(std::min<int64_t>(mr_max, mc - ir));
          const float* ap = abuf + (ir / mr_max) * a_panel_stride;
          float* crow = pr.c + (r0 + ir) * pr.ldc + c0;
          int64_t jr = 0;
          // A single row goes through the row kernel, ks.row_panels panels at a time. It does no software
          // prefetch: its panels stream in order, which the hardware prefetcher follows.
          if (mr == 1 && row_kernel != nullptr) {
            for (; jr + ks.row_panels * nr_max <= nc; jr += ks.row_panels * nr_max) {
              row_kernel(kc, ap, bblock + (jr / nr_max) * kc * nr_max, kc * nr_max, crow + jr, pr.alpha, pr.beta,
                         mode);
            }
          }
          for (; jr < nc; jr += nr_max) {
            const int nr = static_cast<int>(std::min<int64_t>(nr_max, nc - jr));
            int64_t npf;
            PrefetchCursor* pf = prefetcher.next(kc, &npf);
            kernel(kc, ap, bblock + (jr / nr_max) * kc * nr_max, crow + jr, pr.ldc, mr, nr, pr.alpha, pr.beta,
                   mode, pf, npf);
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
// cost per extra task (handing it to a worker). Tiles are whole micro-tiles, so splitting adds no edge
// tiles. Only mb/nb and the grid depend on the thread count and the pool's state; K chunks never do, so
// every plan gives the same bits.
Plan make_plan(const KernelSet& ks, int64_t m, int64_t n, int64_t k, int threads, bool pool_hot) {
  const int64_t mt = ceil_div(m, ks.mr), nt = ceil_div(n, ks.nr);
  const double kk = static_cast<double>(std::max<int64_t>(k, 1));
  constexpr double kPackWeight = 8.0;
  // Waking a sleeping pool worker takes 30-80 us here (~50 us of FMA work); a worker still spinning after
  // the last job starts in about a microsecond, so single-sample products (one row: a matrix-vector
  // product streaming the weights) are worth splitting between threads while the pool is hot.
  const double task_cost = pool_hot ? 1e5 : 3e6;
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
      const double cost = compute + pack + task_cost * static_cast<double>(gm * gn - 1);
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

void sgemm_impl(int threads, bool run_on_pool, const Problem& pr) {
  if (pr.m <= 0 || pr.n <= 0) return;
  const KernelSet& ks = pr.packed_b ? *pr.packed_b->kernels() : *cpu::active_kernels().gemm;
  const bool hot = run_on_pool && global_pool().hot();
  const Plan plan = make_plan(ks, pr.m, pr.n, pr.k, std::max(threads, 1), hot);
  // A product worth splitting only while the workers spin: wake them for the next one.
  if (run_on_pool && !hot && plan.gm * plan.gn == 1 && threads > 1) {
    const Plan when_hot = make_plan(ks, pr.m, pr.n, pr.k, threads, true);
    if (when_hot.gm * when_hot.gn > 1) global_pool().nudge();
  }
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

PackedB::PackedB(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb)
    : ks_(cpu::active_kernels().gemm), k_(k), n_(n), padded_n_((n + ks_->nr - 1) / ks_->nr * ks_->nr) {
  const size_t floats = static_cast<size_t>(std::max<int64_t>(k * padded_n_, 1));
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  data_.reset(static_cast<float*>(host_block_cache().allocate(bytes)));
  if (!data_) throw std::bad_alloc();
  if (k <= 0 || n <= 0) return;
  const detail::Problem pr{false, trans_b, 0, n, k, 1.0f, nullptr, 0, b, ldb, 0.0f, nullptr, 0, nullptr};
  const int64_t kc_len = detail::k_chunk(*ks_, k);
  for (int64_t p0 = 0; p0 < k; p0 += kc_len) {
    const int64_t kc = std::min(kc_len, k - p0);
    const detail::Region br = detail::b_region(pr, p0, kc, 0, n);
    ks_->pack_b(br.p, br.ld, trans_b, n, kc, data_.get() + p0 * padded_n_);
  }
}

void PackedB::Free::operator()(float* p) const noexcept { host_block_cache().release(p); }

bool PackedB::usable() const noexcept { return ks_ == cpu::active_kernels().gemm; }

void sgemm_packed(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const PackedB& b, float beta, float* c, int64_t ldc, const GemmEpilogue* epilogue) {
  if (b.k() != k || b.n() != n || !b.usable()) throw std::logic_error("sgemm_packed: B was packed for another shape or ISA");
  detail::Problem pr{trans_a, false, m, n, k, alpha, a, lda, nullptr, 0, beta, c, ldc, epilogue};
  pr.packed_b = &b;
  detail::sgemm_impl(global_pool().size(), true, pr);
}

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
