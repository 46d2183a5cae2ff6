#include "block_cache.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace hn {
namespace cpu {

BlockCache::~BlockCache() { trim(); }

void* BlockCache::allocate(size_t bytes) {
  if (bytes >= kMinBlock) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= bytes + bytes / 8) {
      void* p = it->second;
      const size_t size = it->first;
      live_.emplace(p, size);  // first: if it throws, the block is still in free_
      cached_ -= size;
      free_.erase(it);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) {
    trim();
    p = std::aligned_alloc(64, bytes);
    if (p == nullptr) return nullptr;
  }
  if (bytes >= kMinBlock) {
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(p, bytes);
    } catch (...) {
      std::free(p);
      return nullptr;  // the caller reports Error(Memory)
    }
  }
  return p;
}

void BlockCache::release(void* p) noexcept {
  if (p == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(p);
    if (it != live_.end()) {
      const size_t size = it->second;
      live_.erase(it);
      if (size <= budget_ / 2) {
        trim_to(budget_ - size);
        free_.emplace(size, p);
        cached_ += size;
        return;
      }
    }
  }
  std::free(p);
}

void BlockCache::trim_to(size_t bytes) noexcept {
  // The largest blocks go first: fewest frees, and the small ones are the most reused.
  while (cached_ > bytes && !free_.empty()) {
    auto last = std::prev(free_.end());
    cached_ -= last->first;
    std::free(last->second);
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
