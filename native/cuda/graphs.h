// Fixed sequences of launches replayed as CUDA Graphs (issue 13): a hypernetwork forward or backward is 4-10
// launches and pool calls whose host-side cost (2-4 us each) approaches the GPU time at the SD-Turbo shapes and
// exceeds it at the MNIST ones. A sequence is identified by a key: every pointer and size its launches receive
// (device memory is read when the graph runs, so only the arguments must match). The first call with a key runs
// directly; the second is captured into a graph on a stream private to the calling thread (other threads keep
// using the backend's stream untouched) and launched; later calls launch the graph. A capture or a graph launch
// that fails (an operation not allowed in a capture, no graph memory left) runs the launches directly, and that
// key stays direct from then on. Graphs need stream-ordered allocation (cudaMallocAsync): without it they are off.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace hn {
namespace cuda {

class CudaBackend;

class GraphCache {
 public:
  using Key = std::vector<uint64_t>;

  explicit GraphCache(bool enabled);
  ~GraphCache();  // the graphs are destroyed; the process-wide backend outlives every launch
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // Runs `body`, which enqueues work on be.stream() only (no synchronisation, no host transfer): directly, or
  // captured and replayed as described above. Results are the same bits either way.
  void run(CudaBackend& be, const Key& key, const std::function<void()>& body);

  void set_enabled(bool on);
  bool enabled() const;
  // Graphs launched and captured since the start (for the test driver).
  uint64_t launches() const;
  uint64_t captures() const;
  size_t graphs_held() const;
  static constexpr size_t kMaxGraphs = 32;  // each holds its own temporaries: keep the number bounded

 private:
  struct Entry {
    int seen = 0;
    cudaGraphExec_t exec = nullptr;
    uint64_t last_use = 0;
    bool capturing = false;    // another thread is capturing this key: run directly meanwhile
    bool direct_only = false;  // its capture failed once: always run directly
  };
  void evict_oldest(CudaBackend& be, bool with_graph);
  void drop_graph(CudaBackend& be, Entry& e);
  bool launch_locked(CudaBackend& be, Entry& e);

  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  uint64_t clock_ = 0, launches_ = 0, captures_ = 0;
  bool enabled_;
};

// Where this thread enqueues work: its capture stream while it captures a graph, else null (the backend's).
cudaStream_t capture_stream_of_this_thread();

}  // namespace cuda
}  // namespace hn
