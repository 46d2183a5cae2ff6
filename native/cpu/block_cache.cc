#include "block_cache.h"

#include <cstdlib>
#include <memory>
#include <string>

#include <atomic>
#include <cstdint>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define HN_HAVE_MMAP 1
#endif

namespace hn {
namespace cpu {

namespace {

#ifdef HN_HAVE_MMAP
// Mapped blocks start at one of 64 cache-line offsets within their first page, in turn, as malloc's blocks
// do not all start on a page boundary either: arrays that all began on one would put the same element of
// each in the same L1 set and alias each other's addresses modulo 4 KiB.
constexpr size_t kColours = 64;
std::atomic<size_t> next_colour{0};

size_t page_size() noexcept {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}
#endif

// A block of kMinBlock bytes or more: mapped pages, 64-byte aligned, or nullptr.
void* map_block(size_t bytes) noexcept {
#ifdef HN_HAVE_MMAP
  const size_t page = page_size();
  void* base = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  const size_t offset = (next_colour.fetch_add(1, std::memory_order_relaxed) % kColours) * 64 % page;
  return static_cast<char*>(base) + offset;
#else
  return std::aligned_alloc(64, bytes);
#endif
}

void unmap_block(void* p, size_t bytes) noexcept {
#ifdef HN_HAVE_MMAP
  const size_t page = page_size();
  const uintptr_t base = reinterpret_cast<uintptr_t>(p) / page * page;
  munmap(reinterpret_cast<void*>(base), bytes + page);
#else
  (void)bytes;
  std::free(p);
#endif
}

void* allocate_block(size_t bytes) noexcept {
  return bytes >= BlockCache::kMinBlock ? map_block(bytes) : std::aligned_alloc(64, bytes);
}

}  // namespace

BlockCache::~BlockCache() { trim(); }

void* BlockCache::allocate(size_t bytes) {
  if (bytes >= kMinBlock) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= bytes + bytes / 8) {
      void* p = it->second;
      const size_t size = it->first;
      live_.emplace(p, size);  // first: if it throws, the block is still in free_
      live_bytes_ += size;
      cached_ -= size;
      free_.erase(it);
      return p;
    }
  }
  void* p = allocate_block(bytes);
  if (p == nullptr) {
    trim();
    p = allocate_block(bytes);
    if (p == nullptr) return nullptr;
  }
  if (bytes >= kMinBlock) {
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(p, bytes);
      live_bytes_ += bytes;
    } catch (...) {
      unmap_block(p, bytes);
      return nullptr;  // the caller reports Error(Memory)
    }
  }
  return p;
}

void BlockCache::release(void* p) noexcept {
  if (p == nullptr) return;
  size_t size = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(p);
    if (it != live_.end()) {
      size = it->second;
      live_.erase(it);
      live_bytes_ -= size;
      if (size <= budget_ / 2) {
        trim_to(budget_ - size);
        free_.emplace(size, p);
        cached_ += size;
        return;
      }
    }
  }
  if (size > 0) {
    unmap_block(p, size);
  } else {
    std::free(p);
  }
}

void BlockCache::trim_to(size_t bytes) noexcept {
  // The largest blocks go first: fewest frees, and the small ones are the most reused.
  while (cached_ > bytes && !free_.empty()) {
    auto last = std::prev(free_.end());
    cached_ -= last->first;
    unmap_block(last->second, last->first);
    free_.erase(last);
  }
}

void BlockCache::trim() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  trim_to(0);
}

size_t BlockCache::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

size_t BlockCache::live_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_bytes_;
}

namespace {

size_t budget_from_env() {
  const char* v = std::getenv("HYPERNOISE_HOST_CACHE_MB");
  if (v == nullptr || *v == '\0') return size_t{64} << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0' || mb > (1ull << 20)) return size_t{64} << 20;  // unparsable: the default
  return static_cast<size_t>(mb) << 20;
}

}  // namespace

BlockCache& host_block_cache() {
  static BlockCache* const cache = std::make_unique<BlockCache>(budget_from_env()).release();
  return *cache;
}

}  // namespace cpu
}  // namespace hn
