// CUDA Graphs for fixed launch sequences (graphs.h).
#include "graphs.h"

#include <utility>

#include "cuda_backend.h"
#include "cuda_check.h"

namespace hn {
namespace cuda {

namespace {

thread_local cudaStream_t t_capture = nullptr;

// One capture stream per host thread, created on first use and kept (a thread captures again later).
cudaStream_t private_stream() {
  thread_local cudaStream_t s = nullptr;
  if (s == nullptr) HN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

// A capture on this thread's private stream, ended however the body leaves (an exception included), with the
// thread's stream restored. Thread-local mode: other threads' CUDA calls neither join nor break it.
class CaptureScope {
 public:
  explicit CaptureScope(cudaStream_t s) : s_(s) {
    HN_CUDA_CHECK(cudaStreamBeginCapture(s_, cudaStreamCaptureModeThreadLocal));
    t_capture = s_;
  }
  cudaGraph_t finish() {
    t_capture = nullptr;
    open_ = false;
    cudaGraph_t g = nullptr;
    HN_CUDA_CHECK(cudaStreamEndCapture(s_, &g));
    return g;
  }
  ~CaptureScope() {
    if (!open_) return;
    t_capture = nullptr;
    cudaGraph_t g = nullptr;
    if (cudaStreamEndCapture(s_, &g) == cudaSuccess && g != nullptr) cudaGraphDestroy(g);
    cudaGetLastError();
  }
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;

 private:
  cudaStream_t s_;
  bool open_ = true;
};

// Owns a captured graph until it has been instantiated.
struct GraphOwner {
  cudaGraph_t g;
  ~GraphOwner() {
    if (g != nullptr) cudaGraphDestroy(g);
  }
};

}  // namespace

cudaStream_t capture_stream_of_this_thread() { return t_capture; }

GraphCache::GraphCache(bool enabled) : enabled_(enabled) {}

GraphCache::~GraphCache() {
  for (auto& kv : entries_) {
    if (kv.second.exec != nullptr) cudaGraphExecDestroy(kv.second.exec);
  }
  cudaGetLastError();
}

void GraphCache::set_enabled(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  enabled_ = on;
}
bool GraphCache::enabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return enabled_;
}
uint64_t GraphCache::launches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return launches_;
}
uint64_t GraphCache::captures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return captures_;
}
size_t GraphCache::graphs_held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& kv : entries_) n += kv.second.exec != nullptr;
  return n;
}

// Called with the mutex held: drops the least recently used key, among those holding a graph when `with_graph`
// (to make room for one), else among all. A graph is destroyed only after the work queued so far (which may
// still run it) has finished; launches happen under the same mutex, so none can be in between.
void GraphCache::evict_oldest(CudaBackend& be, bool with_graph) {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.capturing || (with_graph && it->second.exec == nullptr)) continue;
    if (oldest == entries_.end() || it->second.last_use < oldest->second.last_use) oldest = it;
  }
  if (oldest == entries_.end()) return;
  if (oldest->second.exec != nullptr) {
    drop_graph(be, oldest->second);
  }
  entries_.erase(oldest);
}

// Called with the mutex held: destroys an entry's graph and gives the device its graph memory back.
void GraphCache::drop_graph(CudaBackend& be, Entry& e) {
  HN_CUDA_CHECK(cudaStreamSynchronize(be.stream()));
  HN_CUDA_CHECK(cudaGraphExecDestroy(e.exec));
  e.exec = nullptr;
  if (cudaDeviceGraphMemTrim(be.device()) != cudaSuccess) cudaGetLastError();  // best effort
}

// Called with the mutex held. False when the launch failed (out of graph memory, say): the graph is dropped and
// the key made direct, so the caller runs the launches itself.
bool GraphCache::launch_locked(CudaBackend& be, Entry& e) {
  const cudaError_t err = cudaGraphLaunch(e.exec, be.stream());
  if (err == cudaSuccess) {
    ++launches_;
    return true;
  }
  cudaGetLastError();
  drop_graph(be, e);
  e.direct_only = true;
  return false;
}

void GraphCache::run(CudaBackend& be, const Key& key, const std::function<void()>& body) {
  if (t_capture != nullptr) {  // already inside a capture: part of the enclosing graph
    body();
    return;
  }
  bool capture = false;
  {
    // Graphs are launched under the mutex: an executable graph may not be launched by two threads at once, nor
    // destroyed (evicted) while another thread is about to launch it.
    std::lock_guard<std::mutex> lock(mutex_);
    if (enabled_) {
      auto it = entries_.find(key);
      if (it == entries_.end()) {
        if (entries_.size() >= 8 * kMaxGraphs) evict_oldest(be, false);
        it = entries_.emplace(key, Entry{}).first;
      }
      Entry& e = it->second;
      e.last_use = ++clock_;
      ++e.seen;
      if (e.exec != nullptr) {
        if (launch_locked(be, e)) return;
      } else if (e.seen > 1 && !e.capturing && !e.direct_only) {
        e.capturing = true;
        capture = true;
      }
    }
  }
  if (!capture) {
    body();
    return;
  }

  cudaGraphExec_t made = nullptr;
  try {
    CaptureScope scope(private_stream());
    body();
    GraphOwner g{scope.finish()};
    HN_CUDA_CHECK(cudaGraphInstantiate(&made, g.g, 0));
  } catch (...) {
    // Nothing ran: the capture only recorded. Run the sequence directly; a capture-specific failure is then
    // gone, a real one (bad input, no memory) is reported as without graphs. This key stays direct.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        it->second.capturing = false;
        it->second.direct_only = true;
      }
    }
    body();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& e = entries_[key];  // a key being captured is never evicted
    try {
      size_t graphs = 0;
      for (const auto& kv : entries_) graphs += kv.second.exec != nullptr;
      if (graphs >= kMaxGraphs) evict_oldest(be, true);
    } catch (...) {  // an earlier asynchronous error surfaced while making room: no graph for this key
      cudaGraphExecDestroy(made);
      e.capturing = false;
      e.direct_only = true;
      throw;
    }
    e.capturing = false;
    e.exec = made;
    e.last_use = ++clock_;
    ++captures_;
    if (launch_locked(be, e)) return;
  }
  body();
}

}  // namespace cuda
}  // namespace hn
