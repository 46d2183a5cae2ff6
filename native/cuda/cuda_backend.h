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

  void synchronize() override;
  HN_BACKEND_OVERRIDES

 private:
  int device_ = 0;
  int sm_count_ = 1;
  bool pool_ = true;  // stream-ordered allocation available (else cudaMalloc/cudaFree)
  cudaStream_t stream_ = nullptr;
};

}  // namespace cuda
}  // namespace hn
