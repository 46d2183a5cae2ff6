// The CPU backend: plain C++17 kernels over the hand-written GEMM (gemm.h) and the thread pool.
// One file per op family: noise.cc, hypernet.cc, kl.cc, sequential.cc, rewards.cc, optim.cc, tto.cc.
#pragma once

#include "../backend.h"

namespace hn {
namespace cpu {

class CpuBackend final : public Backend {
 public:
  BackendKind kind() const noexcept override { return BackendKind::Cpu; }
  std::string name() const override { return "cpu"; }
  bool host_memory() const noexcept override { return true; }

  void* allocate(size_t bytes) override;
  void deallocate(void* p) noexcept override;
  void to_device(void* dst, const void* host_src, size_t bytes) override;
  void to_host(void* host_dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void fill(float* dst, float value, int64_t count) override;
  void synchronize() override {}

  void sample_noise(float* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample,
                    uint32_t stream) override;

  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override;

  void hypernet_k(const HypernetDesc& d, const float* params, float* K) override;
  void hypernet_forward(const HypernetDesc& d, const float* params, const float* eps, const float* cond, int64_t n,
                        float* eps_hat, bool exact, bool keep, const HypernetCacheView& cache) override;
  void hypernet_backward(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                         const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl, float kl_weight,
                         const HypernetCacheView& cache, float* grad) override;

  void seq_stage_forward(const SeqStage& s, const float* params, const float* x, int64_t n, float* z,
                         float* y) override;
  void seq_stage_backward(const SeqStage& s, const float* params, const float* x, const float* z, float* dy,
                          int64_t n, float* dx, float* grad) override;

  void pixel_reward(PixelReward kind, const float* x, int64_t n, int64_t p, float weight, float* value,
                    float* grad) override;
  void log_softmax_pick(const float* logits, int64_t n, int64_t k, const int32_t* classes, float weight,
                        float* value, float* dlogits) override;
  void argmax_classes(const float* cond, int64_t n, int64_t cond_dim, int64_t offset, int64_t k,
                      int32_t* classes) override;

  double sum_squares(const float* x, int64_t count) override;
  void optimizer_step(const OptimizerHyper& h, float* params, const float* grad, float* m, float* v,
                      int64_t count) override;

  void noise_sgd_step(float* eps, const float* grad, float* velocity, int64_t n, int64_t dim, float lr,
                      float momentum, bool nesterov, float clip, float lambda_chi) override;
  void keep_best(const float* value, int64_t n, float* best_value, const float* a, int64_t da, float* best_a,
                 const float* b, int64_t db, float* best_b) override;
  void axpby(float alpha, const float* x, float beta, float* y, int64_t count) override;
};

CpuBackend& cpu_backend();

// Uniforms in [0, 1) from the same Philox counters as the noise (host; for seeded choices in the API).
void sample_uniform(double* out, int64_t n, int64_t dim, uint64_t seed, uint64_t first_sample, uint32_t stream);

// Exact-KL per-sample work (kl.cc), used by hypernet.cc.
// For each sample: M (r x r; diagonal act'(z1) at depth 1), G = I + M K, trace = Tr(MK),
// logdet = log det G, noninvertible = det G <= 0; with keep, P = I - G^{-1} (I when non-invertible).
void exact_kl_forward(const HypernetDesc& d, const float* params, const float* K, const float* z, int64_t n,
                      bool keep, float* M_out, float* P_out, float* trace, float* logdet, float* noninvertible);
// Backward of sum_i w * E_i with E = Tr(MK) - log det G: adds w * dE/dz_k into dz (L x n x r) and
// w * dE/dW_k into grad, and returns S = w * sum_i (P_i M_i)^T (r x r) for the dA/dB GEMMs.
void exact_kl_backward(const HypernetDesc& d, const float* params, const float* K, const float* z, const float* P,
                       const float* M, int64_t n, float w, float* dz, float* grad, float* S);

}  // namespace cpu
}  // namespace hn
