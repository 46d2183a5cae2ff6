// A process-wide cache of freed host blocks for the CPU backend. Every op allocates its scratch and
// activation buffers per call (DeviceBuffer); at 64 KiB and more glibc serves those with fresh mmap pages,
// and the kernel's page faults and page clearing then cost a third of a generator VJP (measured with perf
// at MNIST scale: 29 % of the time in exc_page_fault / clear_page). Reusing the freed blocks of the same
// size keeps the pages mapped. Bounded: at most `budget` bytes are held while unused, and every cached
// block is given back before an allocation is allowed to fail.
//
// Blocks of kMinBlock and more are mapped from the OS directly (mmap) and unmapped when they leave the
// cache, so that memory freed by dispose() or a finalizer goes back to the system at once. Through malloc it
// did not: glibc raises its mmap threshold to the size of each mapped block it frees, serves later blocks up
// to that size from its heap, and keeps what is freed there (2,000 unreferenced 1 MiB models left RSS 2 GiB
// higher after their finalizers had run; docs/RELIABILITY.md, bug 18).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace hn {
namespace cpu {

class BlockCache {
 public:
  // Blocks below this size come from malloc's own free lists, which do not fault.
  static constexpr size_t kMinBlock = size_t{64} << 10;

  // budget: the most bytes held in unused blocks. HYPERNOISE_HOST_CACHE_MB (0 turns caching off)
  // sets the process-wide cache's budget; the default is 64 MiB.
  explicit BlockCache(size_t budget) : budget_(budget) {}
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A 64-byte-aligned block of at least `bytes` (a multiple of 64), or nullptr when the system has none
  // even after the cache has been emptied. A cached block is reused when it is at most 1/8 larger.
  void* allocate(size_t bytes);
  // Gives back a block from allocate() (nullptr is ignored).
  void release(void* p) noexcept;
  // Frees every unused block.
  void trim() noexcept;

  size_t cached_bytes() const;
  // Bytes in blocks of kMinBlock and more handed out and not yet released (tests bound it).
  size_t live_bytes() const;
  size_t budget() const noexcept { return budget_; }

 private:
  void trim_to(size_t bytes) noexcept;  // caller holds mutex_

  const size_t budget_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_;          // unused blocks by size
  std::unordered_map<void*, size_t> live_;     // blocks handed out at kMinBlock and more, with their size
  size_t cached_ = 0;                          // sum of the sizes in free_
  size_t live_bytes_ = 0;                      // sum of the sizes in live_
};

// The cache CpuBackend allocates through (created on first use and never destroyed: static objects may
// free their buffers after exit-time destructors have run).
BlockCache& host_block_cache();

}  // namespace cpu
}  // namespace hn
