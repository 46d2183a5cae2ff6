#include "cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../errors.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

void* CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment: one cache line, one AVX-512 vector.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = rounded == 0 ? nullptr : std::aligned_alloc(64, rounded);
  if (p == nullptr && rounded != 0) {
    fail(ErrorCode::Memory, "Could not allocate " + std::to_string(bytes) + " bytes of host memory");
  }
  return p;
}

void CpuBackend::deallocate(void* p) noexcept { std::free(p); }

void CpuBackend::to_device(void* dst, const void* host_src, size_t bytes) {
  if (bytes != 0 && dst != host_src) std::memcpy(dst, host_src, bytes);
}

void CpuBackend::to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes != 0 && host_dst != src) std::memcpy(host_dst, src, bytes);
}

void CpuBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes != 0 && dst != src) std::memmove(dst, src, bytes);
}

void CpuBackend::fill(float* dst, float value, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] = value;
}

void CpuBackend::axpby(float alpha, const float* x, float beta, float* y, int64_t count) {
  const int64_t grain = 1 << 16;
  const int64_t tasks = (count + grain - 1) / grain;
  global_pool().parallel_for(tasks, [&](int64_t t) {
    const int64_t b = t * grain, e = std::min(count, b + grain);
    if (beta == 0.0f) {
      for (int64_t i = b; i < e; ++i) y[i] = alpha * x[i];
    } else {
      for (int64_t i = b; i < e; ++i) y[i] = alpha * x[i] + beta * y[i];
    }
  });
}

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace cpu
}  // namespace hn
