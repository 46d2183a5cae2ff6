// Device memory and transfers. Allocation is stream-ordered (cudaMallocAsync on the backend's stream from
// the device's default pool, whose release threshold is raised so freed blocks stay cached): the core
// allocates temporaries on every call, and a pool hit costs about as much as a kernel launch, with no
// device-wide synchronisation as cudaMalloc/cudaFree would impose.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common.cuh"

namespace hn {
namespace cuda {

namespace {

__global__ void __launch_bounds__(detail::kBlock) fill_kernel(float* __restrict__ dst, float value, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    dst[i] = value;
  }
}

__global__ void __launch_bounds__(detail::kBlock) axpby_kernel(float alpha, const float* x, float beta, float* y, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = beta == 0.0f ? alpha * x[i] : alpha * x[i] + beta * y[i];
  }
}

}  // namespace

namespace {
bool graphs_from_env() {
  const char* v = std::getenv("HYPERNOISE_CUDA_GRAPHS");
  return v == nullptr || std::string(v) != "0";
}
}  // namespace

CudaBackend::CudaBackend() : graphs_(graphs_from_env()) {
  HN_CUDA_CHECK(cudaSetDevice(device_));
  HN_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
  int pools = 0;
  HN_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device_));
  pool_ = pools != 0;
  if (pool_) {
    cudaMemPool_t pool;
    HN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_));
    uint64_t keep_all = UINT64_MAX;  // never trim the cache at synchronisation points
    HN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  }
  if (!pool_) graphs_.set_enabled(false);  // cudaMalloc/cudaFree cannot be captured
  // Non-blocking: independent of the legacy default stream, which other libraries in the process may use.
  HN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

void* CudaBackend::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  // Both return blocks aligned to at least 256 bytes: every buffer can be read in float4 vectors.
  const cudaError_t err = pool_ ? cudaMallocAsync(&p, bytes, stream()) : cudaMalloc(&p, bytes);
  if (err != cudaSuccess || p == nullptr) {
    cudaGetLastError();  // clear the error so later calls are not blamed for it
    fail(ErrorCode::Memory, "Could not allocate " + std::to_string(bytes) + " bytes of CUDA device memory (" +
                                cudaGetErrorString(err) + ")");
  }
  return p;
}

void CudaBackend::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  // Stream-ordered: the block returns to the pool once the work already queued (which may still read it)
  // has run. Errors cannot be reported from here (noexcept, also called during teardown): clear them.
  const cudaError_t err = pool_ ? cudaFreeAsync(p, stream()) : cudaFree(p);
  if (err != cudaSuccess) cudaGetLastError();
}

void CudaBackend::to_device(void* dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  HN_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
  // The caller may reuse or free the host array as soon as we return (e.g. a temporary std::vector), and an
  // asynchronous copy from page-locked memory may not have read it yet: wait.
  HN_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void CudaBackend::to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  HN_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  HN_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void CudaBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  const auto d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d < s + bytes && s < d + bytes) {
    // Overlapping ranges (memmove semantics, as the CPU backend): go through a temporary.
    DeviceBuffer tmp(*this, bytes);
    HN_CUDA_CHECK(cudaMemcpyAsync(tmp.data(), src, bytes, cudaMemcpyDeviceToDevice, stream()));
    HN_CUDA_CHECK(cudaMemcpyAsync(dst, tmp.data(), bytes, cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  HN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void CudaBackend::fill(float* dst, float value, int64_t count) {
  if (count <= 0) return;
  detail::launch(*this, fill_kernel, detail::grid_for(*this, count), detail::kBlock, dst, value, count);
}

void CudaBackend::axpby(float alpha, const float* x, float beta, float* y, int64_t count) {
  if (count <= 0) return;
  detail::launch(*this, axpby_kernel, detail::grid_for(*this, count), detail::kBlock, alpha, x, beta, y, count);
}

void CudaBackend::synchronize() { HN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace cuda
}  // namespace hn
