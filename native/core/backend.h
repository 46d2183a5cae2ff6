// The backend interface: every op the library runs on numbers. The CPU backend (native/cpu) and the CUDA
// backend (native/cuda) implement it; everything in native/core (hypernetwork, models, rewards, optimizer,
// trainer, test-time optimisation) is written once against it and knows neither backend. All pointers an
// op takes are backend memory (host memory for the CPU backend, device memory for CUDA) unless a comment
// says "host". Which backends exist and which one is used is decided outside the core (native/registry).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "hypernetwork_layout.h"
#include "kl.h"
#include "optimizer_config.h"
#include "pixel_reward.h"
#include "sequential_stage.h"

namespace hn {

enum class BackendKind { Cpu = 0, Cuda = 1 };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual BackendKind kind() const noexcept = 0;
  virtual std::string name() const = 0;  // "cpu" / "cuda"
  // True when backend memory is ordinary host memory, so callers may hand user arrays over in place.
  virtual bool host_memory() const noexcept = 0;

  // memory
  virtual void* allocate(size_t bytes) = 0;  // throws Error(Memory)
  virtual void deallocate(void* p) noexcept = 0;
  virtual void to_device(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill(float* dst, float value, int64_t count) = 0;
  virtual void synchronize() = 0;

  // Standard normal noise from Philox4x32-10, sample i of the batch is stream sample first_sample + i.
  virtual void sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                            uint32_t stream) = 0;

  // Row-major C = alpha op(A) op(B) + beta C (trans_a: A is stored k x m; trans_b: B is stored n x k).
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) = 0;

  // Exact-KL constant K = s A B (r x r).
  virtual void hypernet_k(const HypernetDesc& d, const float* params, float* K) = 0;

  // Fused forward: eps_hat (n x D) and per-sample statistics (cache.stats, always written). cond may be
  // null when C == 0. With kl == Exact, cache.K must hold hypernet_k() and the exact-KL parts are computed.
  // `keep` writes what the backward needs into the cache (z, h, f, P, M).
  virtual void hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                int64_t n, float* eps_hat, KlKind kl, bool keep, const HypernetCacheView& cache) = 0;

  // Gradient (written to grad, flat like params) of
  //   sum_i [ kl_weight * KL_i ] + sum_i < d_eps_hat_i , eps_hat_i >
  // where KL_i is the `kl` term of sample i; eps_hat is the forward's output.
  virtual void hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                 const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl,
                                 float kl_weight, const HypernetCacheView& cache, float* grad) = 0;

  // y = act(x W^T + b) for a stage; z (pre-activation, n x out) is written when non-null.
  // Optional: a linear stage's weights laid out once for this backend's kernels (null: none, the default),
  // and a key that changes when that layout would (the CPU's ISA cap); SequentialModel keeps the result
  // until its parameters or the key change.
  virtual std::unique_ptr<PreparedWeights> seq_prepare(const SeqStage& s, const float* params) { return nullptr; }
  virtual uintptr_t seq_layout_key() const { return 0; }
  virtual void seq_stage_forward(const SeqStage& s, const float* params, const float* x, int64_t n, float* z,
                                 float* y) = 0;
  // Given dy (n x out) and the stage's z: dz = dy * act'(z) (into dz, n x out; may alias dy), then
  // dx = dz W (n x in) when dx is non-null, and dW += dz^T x, db += sum dz when grad is non-null.
  virtual void seq_stage_backward(const SeqStage& s, const float* params, const float* x, const float* z,
                                  float* dy, int64_t n, float* dx, float* grad) = 0;

  // Pixel rewards: value[i] += weight * r(x_i), grad_i += weight * dr/dx_i. x is n x P.
  virtual void pixel_reward(PixelReward kind, const float* x, int64_t n, int64_t p, float weight, float* value,
                            float* grad) = 0;
  // value[i] += weight * log softmax(logits_i)[cls_i]; dlogits_i = weight * (onehot(cls_i) - softmax(logits_i)).
  // classes (int32, backend memory, length n).
  virtual void log_softmax_pick(const float* logits, int64_t n, int64_t k, const int32_t* classes, float weight,
                                float* value, float* dlogits) = 0;
  // classes[i] = argmax(cond_i[offset : offset + k]).
  virtual void argmax_classes(const float* cond, int64_t n, int64_t cond_dim, int64_t offset, int64_t k,
                              int32_t* classes) = 0;

  // sum of squares of x (float64 accumulation); non-finite when any element is.
  virtual double sum_squares(const float* x, int64_t count) = 0;
  // One optimiser step over a flat parameter vector (gradients scaled by h.grad_scale first).
  virtual void optimizer_step(const OptimizerStep& h, float* params, const float* grad, float* m, float* v,
                              int64_t count) = 0;

  // ReNO: per-sample regularised gradient and update of the noise itself.
  //   g_i = grad_i + lambda_chi * d/deps_i [0.5||eps_i||^2 - (D-1) log||eps_i||]  (grad_i: d(-reward)/deps_i)
  //   g_i *= min(1, clip / ||g_i||)   (clip <= 0: no clipping)
  //   SGD with Nesterov momentum `momentum` and rate lr on eps (velocity in `velocity`).
  virtual void noise_sgd_step(float* eps, const float* grad, float* velocity, int64_t n, int64_t dim, float lr,
                              float momentum, bool nesterov, float clip, float lambda_chi) = 0;
  // Where value[i] > best_value[i]: best_value[i] = value[i] and row i of each (src, dst) pair is copied
  // (a: n x da, b: n x db; b may be null).
  virtual void keep_best(const float* value, int64_t n, float* best_value, const float* a, int64_t da, float* best_a,
                         const float* b, int64_t db, float* best_b) = 0;
  // y = alpha x + beta y (beta == 0 ignores y's previous contents).
  virtual void axpby(float alpha, const float* x, float beta, float* y, int64_t count) = 0;
};

// The declarations of every op above as `override`, for a backend class to state in one line which ops it
// implements (all of them) without repeating the list: each backend defines kind(), name(), host_memory()
// and synchronize() itself.
#define HN_BACKEND_OVERRIDES \
  void* allocate(size_t bytes) override;                                                                       \
  void deallocate(void* p) noexcept override;                                                                  \
  void to_device(void* dst, const void* host_src, size_t bytes) override;                                      \
  void to_host(void* host_dst, const void* src, size_t bytes) override;                                        \
  void copy(void* dst, const void* src, size_t bytes) override;                                                \
  void fill(float* dst, float value, int64_t count) override;                                                  \
  void sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,                  \
      uint32_t stream) override;                                                                               \
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,          \
      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override;                   \
  void hypernet_k(const HypernetDesc& d, const float* params, float* K) override;                              \
  void hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,       \
      int64_t n, float* eps_hat, KlKind kl, bool keep, const HypernetCacheView& cache) override;               \
  void hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,      \
      const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl, float kl_weight,                     \
      const HypernetCacheView& cache, float* grad) override;                                                   \
  void seq_stage_forward(const SeqStage& s, const float* params, const float* x, int64_t n, float* z,          \
      float* y) override;                                                                                      \
  void seq_stage_backward(const SeqStage& s, const float* params, const float* x, const float* z, float* dy,   \
      int64_t n, float* dx, float* grad) override;                                                             \
  void pixel_reward(PixelReward kind, const float* x, int64_t n, int64_t p, float weight, float* value,        \
      float* grad) override;                                                                                   \
  void log_softmax_pick(const float* logits, int64_t n, int64_t k, const int32_t* classes, float weight,       \
      float* value, float* dlogits) override;                                                                  \
  void argmax_classes(const float* cond, int64_t n, int64_t cond_dim, int64_t offset, int64_t k,               \
      int32_t* classes) override;                                                                              \
  double sum_squares(const float* x, int64_t count) override;                                                  \
  void optimizer_step(const OptimizerStep& h, float* params, const float* grad, float* m, float* v,            \
      int64_t count) override;                                                                                 \
  void noise_sgd_step(float* eps, const float* grad, float* velocity, int64_t n, int64_t dim, float lr,        \
      float momentum, bool nesterov, float clip, float lambda_chi) override;                                   \
  void keep_best(const float* value, int64_t n, float* best_value, const float* a, int64_t da, float* best_a,  \
      const float* b, int64_t db, float* best_b) override;                                                     \
  void axpby(float alpha, const float* x, float beta, float* y, int64_t count) override;                      

}  // namespace hn
