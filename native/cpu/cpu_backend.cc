#include "cpu_backend.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "block_cache.h"
#include "core/errors.h"
#include "threadpool.h"

namespace hn {
namespace cpu {

namespace {

// Bytes the system can still give this process (MemAvailable + SwapFree from /proc/meminfo), or 0 when
// unknown. Linux overcommits: malloc of more than that usually succeeds and the process is killed by the
// OOM killer once the pages are touched (every buffer is filled right after allocation).
size_t available_memory_bytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long avail_kb = 0, swap_kb = 0;
  bool have_avail = false;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
      avail_kb = v;
      have_avail = true;
    } else if (std::sscanf(line, "SwapFree: %llu kB", &v) == 1) {
      swap_kb = v;
    }
  }
  std::fclose(f);
  return have_avail ? static_cast<size_t>((avail_kb + swap_kb) * 1024ull) : 0;
}

// HYPERNOISE_POISON_ALLOC=1: every allocation starts as NaNs, so a kernel that reads memory it has not
// written shows up in the results (fresh pages read as zeros and reused blocks as stale values).
bool poison_allocations() {
  static const bool on = [] {
    const char* v = std::getenv("HYPERNOISE_POISON_ALLOC");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

}  // namespace

void* CpuBackend::allocate(size_t bytes) {
  // A request beyond what the machine can give is refused up front (Error(Memory)) rather than granted by
  // overcommit and paid for by the OOM killer. Only large requests pay for reading /proc/meminfo; they are
  // also committed (zeroed) at once, so that the next large request sees the memory as taken.
  const bool large = bytes >= (size_t{1} << 30);
  if (large) {
    const size_t avail = available_memory_bytes();
    if (avail != 0 && bytes > avail / 10 * 9) {
      fail(ErrorCode::Memory, "Could not allocate " + std::to_string(bytes) + " bytes of host memory (" +
                                  std::to_string(avail) + " bytes available)");
    }
  }
  // 64-byte alignment: one cache line, one AVX-512 vector.
  if (bytes > SIZE_MAX - 63) fail(ErrorCode::Memory, "Could not allocate " + std::to_string(bytes) + " bytes of host memory");
  const size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) return nullptr;
  void* p = host_block_cache().allocate(rounded);
  if (p == nullptr) fail(ErrorCode::Memory, "Could not allocate " + std::to_string(bytes) + " bytes of host memory");
  if (large) {
    std::memset(p, 0, rounded);
  } else if (poison_allocations()) {
    std::memset(p, 0xff, rounded);  // every float a NaN
  }
  return p;
}

void CpuBackend::deallocate(void* p) noexcept { host_block_cache().release(p); }

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
