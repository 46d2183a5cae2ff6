// The CUDA backend: every Backend op as hand-written kernels on one device (device 0) and one stream.
// One file per op family, named as in native/cpu: memory.cu, noise.cu, gemm.cu, hypernetwork.cu, kl.cu,
// sequential.cu, reward.cu, optimizer.cu, tto.cu. All ops are enqueued on stream(); to_host and sum_squares
// synchronise it, everything else returns as soon as the work is queued.
//
// Thread safety: the object holds no mutable state besides the stream, so several host threads may use it
// at once; their work is serialised on the stream. Temporary buffers come from the device's stream-ordered
// memory pool (cudaMallocAsync), so the per-call allocations of the core are cheap.
#pragma once

#include <cuda_runtime.h>

#include "core/backend.h"
#include "graphs.h"

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

  // What the kernels and the test driver need to know about the device. stream(): where work is enqueued, the
  // backend's stream or, while this thread captures a graph, its capture stream (graphs.h).
  cudaStream_t stream() const noexcept {
    const cudaStream_t c = capture_stream_of_this_thread();
    return c != nullptr ? c : stream_;
  }
  GraphCache& graphs() noexcept { return graphs_; }
  int sm_count() const noexcept { return sm_count_; }
  int device() const noexcept { return device_; }

  void synchronize() override;
  HN_BACKEND_OVERRIDES

 private:
  // The launches of hypernet_forward / hypernet_backward, which run them directly or as graphs.
  void hypernet_forward_launches(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                 int64_t n, float* eps_hat, KlKind kl, bool keep, const HypernetCacheView& cache);
  void hypernet_backward_launches(const HypernetDesc& d, const float* params, const float* eps, const float* cond,
                                  const float* eps_hat, int64_t n, const float* d_eps_hat, KlKind kl, float kl_weight,
                                  const HypernetCacheView& cache, float* grad);

  int device_ = 0;
  int sm_count_ = 1;
  bool pool_ = true;  // stream-ordered allocation available (else cudaMalloc/cudaFree)
  cudaStream_t stream_ = nullptr;
  GraphCache graphs_;  // fixed launch sequences (hypernetwork forward and backward); HYPERNOISE_CUDA_GRAPHS=0: off
};

}  // namespace cuda
}  // namespace hn
