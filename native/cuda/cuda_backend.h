// The CUDA backend: every Backend op as hand-written kernels on one device (device 0) and one stream.
// One file per op family, mirroring native/core/cpu: memory.cu, noise.cu, gemm.cu, hypernet.cu, kl.cu,
// sequential.cu, rewards.cu, optim.cu, tto.cu. All ops are enqueued on stream(); to_host and sum_squares
// synchronise it, everything else returns as soon as the work is queued.
//
// Thread safety: the object holds no mutable state besides the stream, so several host threads may use it
// at once; their work is serialised on the stream. Temporary buffers come from the device's stream-ordered
// memory pool (cudaMallocAsync), so the per-call allocations of the core are cheap.
#pragma once

#include <cuda_runtime.h>

#include "../core/backend.h"

namespace hn {
namespace cuda {

class CudaBackend final : public Backend {
 public:
  // Creates the stream and configures the memory pool of device 0. Throws Error(Cuda) on failure.
  CudaBackend();
  // The stream is deliberately not destroyed: the process-wide instance lives until exit (see
  // backend_select.cu), and buffers owned by static objects may still be freed on it during teardown.
  ~CudaBackend() override = default;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  BackendKind kind() const noexcept override { return BackendKind::Cuda; }
  std::string name() const override { return "cuda"; }
  bool host_memory() const noexcept override { return false; }

  // What the kernels and the test driver need to know about the device.
  cudaStream_t stream() const noexcept { return stream_; }
  int sm_count() const noexcept { return sm_count_; }
  int device() const noexcept { return device_; }

  void* allocate(size_t bytes) override;
  void deallocate(void* p) noexcept override;
  void to_device(void* dst, const void* host_src, size_t bytes) override;
  void to_host(void* host_dst, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void fill(float* dst, float value, int64_t count) override;
  void synchronize() override;

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

 private:
  int device_ = 0;
  int sm_count_ = 1;
  bool pool_ = true;  // stream-ordered allocation available (else cudaMalloc/cudaFree)
  cudaStream_t stream_ = nullptr;
};

}  // namespace cuda
}  // namespace hn
