// Sequential-model stages on the CPU: linear + activation fused into one GEMM epilogue, and the backward
// (activation derivative, input gradient, weight gradient).
#include <algorithm>
#include <memory>
#include <mutex>

#include "act_kernels.h"
#include "cpu_backend.h"
#include "epilogues.h"
#include "gemm.h"
#include "isa_kernels.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

namespace {

void activation_rows(Activation a, const float* x, float* y, int64_t count) {
  const int64_t grain = 1 << 15;
  const int64_t tasks = std::max<int64_t>(1, (count + grain - 1) / grain);
  global_pool().parallel_for(tasks, [&](int64_t t) {
    int64_t b, e;
    chunk_range(count, tasks, t, &b, &e);
    act_array(a, x + b, y + b, e - b);
  });
}

// A linear stage's weights W (out x in) packed for the GEMM: for the forward (op(B) = W^T) at once, for the
// input gradient (op(B) = W) on first use (inference never needs it).
class PackedStage final : public PreparedWeights {
 public:
  PackedStage(const SeqStage& s, const float* w) : s_(s), w_(w), forward_(true, s.in, s.out, w, s.in) {}
  const PackedB& forward() const noexcept { return forward_; }
  const PackedB& backward() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!backward_) backward_ = std::make_unique<PackedB>(false, s_.out, s_.in, w_, s_.in);
    return *backward_;
  }

 private:
  SeqStage s_;
  const float* w_;
  PackedB forward_;
  mutable std::mutex mutex_;
  mutable std::unique_ptr<PackedB> backward_;
};

const PackedStage* packed(const SeqStage& s) { return static_cast<const PackedStage*>(s.prepared); }

}  // namespace

std::unique_ptr<PreparedWeights> CpuBackend::seq_prepare(const SeqStage& s, const float* params) {
  if (!s.has_linear) return nullptr;
  return std::make_unique<PackedStage>(s, params + s.w_offset);
}

uintptr_t CpuBackend::seq_layout_key() const { return reinterpret_cast<uintptr_t>(active_kernels().gemm); }

void CpuBackend::seq_stage_forward(const SeqStage& s, const float* params, const float* x, int64_t n, float* z,
                                   float* y) {
  if (!s.has_linear) {
    activation_rows(s.activation, x, y, n * s.out);
    return;
  }
  const float* w = params + s.w_offset;
  const float* b = params + s.b_offset;
  float* target = z ? z : y;
  BiasActEpilogue epilogue(b, s.activation, z ? y : nullptr, s.out);
  if (s.prepared && packed(s)->forward().usable()) {
    sgemm_packed(false, n, s.out, s.in, 1.0f, x, s.in, packed(s)->forward(), 0.0f, target, s.out, &epilogue);
  } else {
    sgemm(false, true, n, s.out, s.in, 1.0f, x, s.in, w, s.in, 0.0f, target, s.out, &epilogue);
  }
}

void CpuBackend::seq_stage_backward(const SeqStage& s, const float* params, const float* x, const float* z,
                                    float* dy, int64_t n, float* dx, float* grad) {
  const int64_t count = n * s.out;
  if (s.activation != Activation::Identity) {
    const int64_t grain = 1 << 15;
    const int64_t tasks = std::max<int64_t>(1, (count + grain - 1) / grain);
    global_pool().parallel_for(tasks, [&](int64_t t) {
      int64_t b, e;
      chunk_range(count, tasks, t, &b, &e);
      act_d1_mul(s.activation, z + b, dy + b, e - b);
    });
  }
  const float* dz = dy;
  if (!s.has_linear) {
    if (dx && dx != dz) copy(dx, dz, static_cast<size_t>(count) * sizeof(float));
    return;
  }
  const float* w = params + s.w_offset;
  if (dx && s.prepared && packed(s)->backward().usable()) {
    sgemm_packed(false, n, s.in, s.out, 1.0f, dz, s.out, packed(s)->backward(), 0.0f, dx, s.in);
  } else if (dx) {
    sgemm(false, false, n, s.in, s.out, 1.0f, dz, s.out, w, s.in, 0.0f, dx, s.in);
  }
  if (grad) {
    sgemm(true, false, s.out, s.in, n, 1.0f, dz, s.out, x, s.in, 1.0f, grad + s.w_offset, s.in);
    float* db = grad + s.b_offset;
    const int64_t tasks = std::min<int64_t>(s.out, 64);
    global_pool().parallel_for(tasks, [&](int64_t t) {
      int64_t b, e;
      chunk_range(s.out, tasks, t, &b, &e);
      for (int64_t j = b; j < e; ++j) {
        double acc = 0.0;
        for (int64_t i = 0; i < n; ++i) acc += dz[i * s.out + j];
        db[j] += static_cast<float>(acc);
      }
    });
  }
}

void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace cpu
}  // namespace hn
