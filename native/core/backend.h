// The backend interface: every op the library runs on numbers. The CPU backend (native/core/cpu) and the
// CUDA backend (native/cuda) implement it; everything above (hypernetwork, models, rewards, optimizer,
// trainer, test-time optimisation) is written once against it. All pointers an op takes are backend
// memory (host memory for the CPU backend, device memory for CUDA) unless a comment says "host".
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "activations.h"

namespace hn {

enum class BackendKind { Cpu = 0, Cuda = 1 };

// ---- hypernetwork ---------------------------------------------------------------------------------

// eps_hat = eps + s (B h_L + bo),  h_1 = act(A eps + U c + b1),  h_k = act(W_k h_{k-1} + b_k).
struct HypernetDesc {
  int64_t noise_dim = 0;  // D
  int64_t cond_dim = 0;   // C (0: unconditional)
  int64_t rank = 0;       // r
  int depth = 1;          // L >= 1
  Activation activation = Activation::Silu;
  float scale = 1.0f;     // s
};

// Offsets (in floats) of each tensor in the flat parameter buffer: A, U, b1, W2, b2, ..., WL, bL, B, bo.
struct HypernetLayout {
  int64_t A = 0, U = 0, b1 = 0, B = 0, bo = 0, total = 0;
  std::vector<int64_t> W, b;  // W[k-2], b[k-2] for k = 2..L
};
HypernetLayout hypernet_layout(const HypernetDesc& d);

// Per-sample statistics the forward writes (backend memory, each of length n).
struct HypernetStats {
  float* l2 = nullptr;             // 0.5 ||f||^2
  float* chi = nullptr;            // 0.5 ||eps_hat||^2 - (D-1) log ||eps_hat||
  float* exact = nullptr;          // 0.5 ||f||^2 + Tr(MK) - log|det G|  (log-det dropped when G is singular or det<=0)
  float* trace = nullptr;          // Tr(J_f) = Tr(MK)
  float* logdet = nullptr;         // log det(I + J_f) (0 where non-invertible)
  float* noninvertible = nullptr;  // 1 where det G <= 0, else 0
  float* sqnorm = nullptr;         // ||eps_hat||^2
};
constexpr int kHypernetStatRows = 7;  // rows of HypernetCacheView::stats, in the order of HypernetStats
HypernetStats hypernet_stats_view(float* stats, int64_t n);

// What the backward needs from the forward. Owned by the caller (sized by hypernet_cache_floats).
struct HypernetCacheView {
  float* z = nullptr;      // L x n x r pre-activations
  float* h = nullptr;      // L x n x r activations
  float* f = nullptr;      // n x D hypernetwork output (before the residual add)
  float* K = nullptr;      // r x r, s A B   (exact KL only)
  float* P = nullptr;      // n x r x r, I - G^{-1} per sample (identity where non-invertible)  (exact only)
  float* M = nullptr;      // n x r x r Jacobian core M per sample (exact, depth > 1 only)
  float* stats = nullptr;  // kHypernetStatRows x n, laid out as HypernetStats
};
// Floats a cache needs for batch n (exact: whether the exact-KL parts are kept).
int64_t hypernet_cache_floats(const HypernetDesc& d, int64_t n, bool exact);
HypernetCacheView hypernet_cache_view(const HypernetDesc& d, int64_t n, bool exact, float* base);

enum class KlKind { L2 = 0, Exact = 1, Chi = 2 };
const char* kl_name(KlKind k) noexcept;
KlKind parse_kl(const std::string& name);

// ---- sequential models ----------------------------------------------------------------------------

// One stage: an optional linear map followed by an activation (identity when none).
struct SeqStage {
  bool has_linear = false;
  int64_t in = 0, out = 0;          // widths (in == out for an activation-only stage)
  int64_t w_offset = 0, b_offset = 0;  // floats into the parameter buffer (linear stages)
  Activation activation = Activation::Identity;
};

// ---- optimiser ------------------------------------------------------------------------------------

enum class OptimizerKind { Adam = 0, AdamW = 1, Sgd = 2 };

struct OptimizerHyper {
  OptimizerKind kind = OptimizerKind::Adam;
  float lr = 1e-3f;          // the rate used this step (warm-up already applied)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;     // SGD
  bool nesterov = false;     // SGD
  float grad_scale = 1.0f;   // multiplies every gradient first (global-norm clipping)
  int64_t step = 1;          // 1-based Adam step for bias correction
};

// Adam's bias corrections for h.step: the step size lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), computed in
// float64 and rounded once here, so that every backend applies the same values.
struct AdamScales {
  float step_size;
  float inv_sqrt_bc2;
};
inline AdamScales adam_scales(const OptimizerHyper& h) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step));
  return {static_cast<float>(h.lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2))};
}

// ---- rewards --------------------------------------------------------------------------------------

enum class PixelReward { Redness = 0, Brightness = 1 };

// ---- the interface --------------------------------------------------------------------------------

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

  // Row-major C = alpha op(A) op(B) + beta C (see cpu/gemm.h for the transposes).
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) = 0;

  // Exact-KL constant K = s A B (r x r).
  virtual void hypernet_k(const HypernetDesc& d, const float* params, float* K) = 0;

  // Fused forward: eps_hat (n x D) and per-sample statistics (cache.stats, always written). cond may be
  // null when C == 0. With `exact`, cache.K must hold hypernet_k() and the exact-KL parts are computed.
  // `keep` writes what the backward needs into the cache (z, h, f, P, M).
  virtual void hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                int64_t n, float* eps_hat, bool exact, bool keep, const HypernetCacheView& cache) = 0;

  // Gradient (written to grad, flat like params) of
  //   sum_i [ kl_weight * KL_i ] + sum_i < d_eps_hat_i , eps_hat_i >
  // where KL_i is the `kl` term of sample i; eps_hat is the forward's output.
  virtual void hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                 const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl,
                                 float kl_weight, const HypernetCacheView& cache, float* grad) = 0;

  // y = act(x W^T + b) for a stage; z (pre-activation, n x out) is written when non-null.
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
  virtual void optimizer_step(const OptimizerHyper& h, float* params, const float* grad, float* m, float* v,
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

// What the process can use, and why.
struct BackendInfo {
  std::string isa;            // CPU micro-kernel ISA in use: avx512 / avx2 / scalar
  int threads = 1;            // CPU threads
  bool cuda_compiled = false; // addon built with the CUDA backend
  bool cuda_available = false;
  std::string cuda_reason;    // why CUDA is / is not used
  std::string cuda_device;    // device name when available
  int cuda_runtime_version = 0;
  int cuda_driver_version = 0;
};

BackendInfo backend_info();
// The process-wide backend of that kind; throws Error(CudaUnavailable) with the reason for CUDA that
// cannot be used.
Backend& get_backend(BackendKind kind);
// 'auto': CUDA when compiled in and a device answers, else the CPU.
Backend& auto_backend();

}  // namespace hn
