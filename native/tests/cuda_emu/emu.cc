// The host emulator behind cuda_runtime.h here: device memory is host memory, streams and events are
// immediate, and a kernel launch runs its blocks one at a time, in a shuffled order, with every CUDA thread
// of a block as a fiber (ucontext). A fiber runs until it reaches __syncthreads() or a warp intrinsic; the
// scheduler resumes the runnable fibers in a shuffled order, so a read of shared memory that lacks a barrier
// after the write it depends on sees a different interleaving than the code assumes and shows up as a
// parity failure. The shuffles draw from HN_EMU_SEED (default 1: reproducible; CI runs several seeds).
// A barrier that not every thread of the block (or warp) reaches is a deadlock, reported with the kernel's
// configuration.
//
// What a GPU would show and plain host memory would not: fresh allocations and every block's shared memory
// are filled with NaN bytes (0xFF) first (a GPU pool hands back stale data, fresh pages are not zero there);
// launch configurations beyond the device's limits fail as on the device; a kernel argument that points
// outside every live allocation (a host pointer, a freed buffer) aborts the run, naming it.
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "emu_runtime.h"

// The linker's bounds of the section that holds every __shared__ variable (cuda_runtime.h).
extern "C" char __start_hn_emu_shared[] __attribute__((weak));
extern "C" char __stop_hn_emu_shared[] __attribute__((weak));

uint3 threadIdx = {0, 0, 0};
uint3 blockIdx = {0, 0, 0};
dim3 blockDim;
dim3 gridDim;

namespace hn_emu {
namespace {

enum class State { Runnable, WaitBlock, WaitWarp, Done };

// One cp.async copy, landed when a wait covers its group.
struct AsyncCopy {
  void* dst;
  const void* src;
  int bytes;
};

struct Fiber {
  ucontext_t ctx;
  State state = State::Done;
  unsigned tid = 0;
  unsigned exchanges = 0;  // warp exchanges this thread has taken part in (selects the slot set)
  std::vector<std::vector<AsyncCopy>> async_groups;  // committed, oldest first
  std::vector<AsyncCopy> async_open;                 // started since the last commit
};

constexpr size_t kStackBytes = 128 * 1024;
constexpr unsigned kMaxThreads = 1024;

std::vector<Fiber> g_fibers;
std::vector<std::unique_ptr<char[]>> g_stacks;
ucontext_t g_sched;
Fiber* g_cur = nullptr;
const std::function<void()>* g_body = nullptr;
// Warp exchanges: [parity][warp][lane]. Consecutive exchanges of a warp alternate between the two sets, so
// one yield per exchange suffices: a lane can write exchange s + 1 only after every lane wrote exchange s, and
// exchange s + 2 (the same set as s) only after every lane wrote s + 1, which each did after reading s.
uint64_t g_slots[2][kMaxThreads / 32][32];
cudaError_t g_last_error = cudaSuccess;
constexpr unsigned char kPoison = 0xFF;  // every float and double made of these bytes is a NaN

uint64_t emu_seed() {
  const char* s = std::getenv("HN_EMU_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 1;
}
std::mt19937_64 g_order_rng(emu_seed());

// Live device allocations: base -> bytes.
std::mutex g_alloc_mutex;
std::map<uintptr_t, size_t> g_allocs;

void poison_shared() {
  char* const start = __start_hn_emu_shared;
  char* const stop = __stop_hn_emu_shared;
  if (start != nullptr && stop > start) std::memset(start, kPoison, static_cast<size_t>(stop - start));
}

void yield(State s) {
  g_cur->state = s;
  swapcontext(&g_cur->ctx, &g_sched);
}

void land(const std::vector<AsyncCopy>& group) {
  for (const AsyncCopy& c : group) {
    std::memcpy(c.dst, c.src, static_cast<size_t>(c.bytes));
    std::memset(static_cast<char*>(c.dst) + c.bytes, 0, static_cast<size_t>(16 - c.bytes));
  }
}

void fiber_entry() {
  (*g_body)();
  // Copies still in flight when a thread ends land anyway (nothing can read them any more).
  for (const auto& g : g_cur->async_groups) land(g);
  land(g_cur->async_open);
  g_cur->async_groups.clear();
  g_cur->async_open.clear();
  g_cur->state = State::Done;
  // returning resumes uc_link, the scheduler
}

// Publishes this lane's 64 bits and returns the warp's slot set once every live lane has published.
const uint64_t* exchange(uint64_t bits) {
  const unsigned w = g_cur->tid / 32, lane = g_cur->tid % 32;
  uint64_t* slots = g_slots[g_cur->exchanges++ & 1][w];
  slots[lane] = bits;
  yield(State::WaitWarp);
  return slots;
}

template <class T>
T shfl_xor(T v, int lane_mask) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  const uint64_t other = exchange(bits)[((g_cur->tid % 32) ^ static_cast<unsigned>(lane_mask)) % 32];
  T r;
  std::memcpy(&r, &other, sizeof(T));
  return r;
}

}  // namespace

void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
  const unsigned T = block.x * block.y * block.z;
  // The device's limits (compute capability 9.0): grid.x < 2^31, grid.y/z < 2^16, block.x/y <= 1024,
  // block.z <= 64, at most 1024 threads per block.
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || T == 0 || T > kMaxThreads || block.x > 1024 || block.y > 1024 ||
      block.z > 64 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    std::fprintf(stderr, "emu: invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u)\n", grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    g_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (T % 32 != 0 && T > 32) {
    std::fprintf(stderr, "emu: block of %u threads is not whole warps (the warp intrinsics assume so)\n", T);
  }
  while (g_stacks.size() < T) g_stacks.emplace_back(new char[kStackBytes]);
  g_fibers.resize(T);
  gridDim = grid;
  blockDim = block;
  g_body = &body;
  std::vector<unsigned> order(T);
  // Blocks in a shuffled order: a kernel whose blocks depend on each other's order (a race between blocks,
  // a read of another block's output without a grid-wide barrier) gives different results per seed.
  const uint64_t blocks = static_cast<uint64_t>(grid.x) * grid.y * grid.z;
  std::vector<uint64_t> block_order(static_cast<size_t>(blocks));
  for (uint64_t i = 0; i < blocks; ++i) block_order[static_cast<size_t>(i)] = i;
  std::shuffle(block_order.begin(), block_order.end(), g_order_rng);
  for (const uint64_t b : block_order) {
    {
      const unsigned bx = static_cast<unsigned>(b % grid.x), by = static_cast<unsigned>((b / grid.x) % grid.y),
                     bz = static_cast<unsigned>(b / (static_cast<uint64_t>(grid.x) * grid.y));
      {
        poison_shared();
        blockIdx = uint3{bx, by, bz};
        for (unsigned t = 0; t < T; ++t) {
          Fiber& f = g_fibers[t];
          f.tid = t;
          f.exchanges = 0;
          f.state = State::Runnable;
          f.async_groups.clear();
          f.async_open.clear();
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = g_stacks[t].get();
          f.ctx.uc_stack.ss_size = kStackBytes;
          f.ctx.uc_link = &g_sched;
          makecontext(&f.ctx, fiber_entry, 0);
        }
        for (;;) {
          for (unsigned t = 0; t < T; ++t) order[t] = t;
          std::shuffle(order.begin(), order.end(), g_order_rng);
          for (unsigned t : order) {
            Fiber& f = g_fibers[t];
            if (f.state != State::Runnable) continue;
            g_cur = &f;
            threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            swapcontext(&g_sched, &f.ctx);
          }
          g_cur = nullptr;
          // Release warps whose live lanes all wait at a warp intrinsic, else the block if every live
          // thread waits at __syncthreads().
          bool released = false, all_done = true, all_block = true;
          for (unsigned w0 = 0; w0 < T; w0 += 32) {
            bool any = false, all = true;
            for (unsigned t = w0; t < std::min(T, w0 + 32); ++t) {
              const State s = g_fibers[t].state;
              if (s == State::Done) continue;
              any = true;
              if (s != State::WaitWarp) all = false;
            }
            if (any && all) {
              for (unsigned t = w0; t < std::min(T, w0 + 32); ++t) {
                if (g_fibers[t].state == State::WaitWarp) g_fibers[t].state = State::Runnable;
              }
              released = true;
            }
          }
          for (const Fiber& f : g_fibers) {
            if (f.state != State::Done) all_done = false;
            if (f.state != State::Done && f.state != State::WaitBlock) all_block = false;
          }
          if (all_done) break;
          if (!released && all_block) {
            for (Fiber& f : g_fibers) {
              if (f.state == State::WaitBlock) f.state = State::Runnable;
            }
            released = true;
          }
          if (!released) {
            std::fprintf(stderr,
                         "emu: deadlock in block (%u,%u,%u) of grid (%u,%u,%u) x block %u: threads wait at different "
                         "barriers\n",
                         bx, by, bz, grid.x, grid.y, grid.z, T);
            std::abort();
          }
        }
      }
    }
  }
  g_body = nullptr;
}

}  // namespace hn_emu

void hn_emu::check_device_pointer(const void* p, const char* what) {
  if (p == nullptr) return;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  auto it = g_allocs.upper_bound(a);
  if (it != g_allocs.begin()) {
    --it;
    if (a <= it->first + it->second) return;  // inside, or one past the end (an empty view)
  }
  std::fprintf(stderr, "emu: %s %p is not inside any live device allocation (a host pointer or a freed buffer)\n",
               what, p);
  std::abort();
}

void hn_emu::cp_async(void* smem, const void* gmem, int bytes) {
  if (bytes < 0 || bytes > 16 || bytes % 4 != 0 || reinterpret_cast<uintptr_t>(smem) % 16 != 0 ||
      (bytes > 0 && reinterpret_cast<uintptr_t>(gmem) % 16 != 0)) {
    std::fprintf(stderr, "emu: cp.async of %d bytes from %p to %p: sizes are 0..16 in words, addresses 16-byte aligned\n",
                 bytes, gmem, smem);
    std::abort();
  }
  if (bytes > 0) check_device_pointer(static_cast<const char*>(gmem) + bytes, "cp.async source end");
  g_cur->async_open.push_back(AsyncCopy{smem, gmem, bytes});
}
void hn_emu::cp_async_commit() {
  g_cur->async_groups.push_back(std::move(g_cur->async_open));
  g_cur->async_open.clear();
}
void hn_emu::cp_async_wait(int pending) {
  auto& groups = g_cur->async_groups;
  const size_t keep = static_cast<size_t>(std::max(0, pending));
  if (groups.size() <= keep) return;
  const size_t done = groups.size() - keep;
  for (size_t i = 0; i < done; ++i) land(groups[i]);
  groups.erase(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(done));
}

void __syncthreads() { hn_emu::yield(hn_emu::State::WaitBlock); }
double __shfl_xor_sync(unsigned, double v, int m) { return hn_emu::shfl_xor(v, m); }
float __shfl_xor_sync(unsigned, float v, int m) { return hn_emu::shfl_xor(v, m); }
int __shfl_xor_sync(unsigned, int v, int m) { return hn_emu::shfl_xor(v, m); }
namespace hn_emu {
namespace {
// One exchange, then `op` folded over the warp's lanes (all 32 take part, as the full mask says; fewer in a
// block smaller than a warp).
template <class Op>
uint64_t warp_fold(uint64_t v, Op op) {
  const uint64_t* slots = exchange(v);
  const unsigned T = blockDim.x * blockDim.y * blockDim.z, w0 = g_cur->tid / 32 * 32;
  const unsigned lanes = T - w0 < 32 ? T - w0 : 32;
  uint64_t r = slots[0];
  for (unsigned l = 1; l < lanes; ++l) r = op(r, slots[l]);
  return r;
}
}  // namespace
}  // namespace hn_emu

int __any_sync(unsigned, int pred) {
  return static_cast<int>(hn_emu::warp_fold(pred != 0, [](uint64_t a, uint64_t b) { return a | b; }));
}
unsigned __reduce_max_sync(unsigned, unsigned v) {
  return static_cast<unsigned>(hn_emu::warp_fold(v, [](uint64_t a, uint64_t b) { return a > b ? a : b; }));
}
unsigned __reduce_min_sync(unsigned, unsigned v) {
  return static_cast<unsigned>(hn_emu::warp_fold(v, [](uint64_t a, uint64_t b) { return a < b ? a : b; }));
}

// ---- runtime API ---------------------------------------------------------------------------------------

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "insufficient driver";
    case cudaErrorNoDevice: return "no CUDA-capable device";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
  }
  return "unknown error";
}
const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
cudaError_t cudaGetLastError() {
  const cudaError_t e = hn_emu::g_last_error;
  hn_emu::g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "host emulation of a 132-SM device");
  prop->major = 9;
  prop->minor = 0;
  prop->totalGlobalMem = size_t{16} << 30;
  prop->multiProcessorCount = 132;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = 132; break;  // as an H200: the same split-K plans
    case cudaDevAttrMemoryPoolsSupported: *value = 1; break;
    case cudaDevAttrClockRate: *value = 1980000; break;
  }
  return cudaSuccess;
}
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  *pool = nullptr;
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }
// Streams run their work at once, except while they capture: then it is recorded, in order, as a graph's
// nodes. A graph owns the memory allocated during its capture (freed when the graph and its executable
// are gone); each launch first refills that memory with NaN bytes, as a graph's allocations hold no values
// from an earlier launch.
struct GraphMemory {
  std::vector<void*> blocks;
  ~GraphMemory() {
    for (void* p : blocks) cudaFree(p);
  }
};
struct EmuStream {
  bool capturing = false;
  std::vector<std::function<void()>> nodes;
  std::shared_ptr<GraphMemory> memory;
};
struct EmuGraph {
  std::vector<std::function<void()>> nodes;
  std::shared_ptr<GraphMemory> memory;
};
struct EmuGraphExec {
  std::vector<std::function<void()>> nodes;
  std::shared_ptr<GraphMemory> memory;
};

namespace {
bool capturing(cudaStream_t s) { return s != nullptr && s->capturing; }
}  // namespace

void hn_emu::submit(cudaStream_t s, dim3 grid, dim3 block, std::function<void()> body) {
  if (capturing(s)) {
    s->nodes.push_back([grid, block, body = std::move(body)] { run_grid(grid, block, body); });
  } else {
    run_grid(grid, block, body);
  }
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  static std::vector<std::unique_ptr<EmuStream>> streams;  // handles live until exit (a test shim)
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  streams.push_back(std::make_unique<EmuStream>());
  *s = streams.back().get();
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  return capturing(s) ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (s == nullptr || s->capturing) return cudaErrorInvalidValue;
  s->capturing = true;
  s->nodes.clear();
  s->memory = std::make_shared<GraphMemory>();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  if (!capturing(s)) return cudaErrorInvalidValue;
  s->capturing = false;
  *graph = new EmuGraph{std::move(s->nodes), std::move(s->memory)};
  s->nodes.clear();
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = new EmuGraphExec{graph->nodes, graph->memory};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (capturing(s)) {
    s->nodes.insert(s->nodes.end(), exec->nodes.begin(), exec->nodes.end());
    return cudaSuccess;
  }
  for (const auto& node : exec->nodes) node();
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaDeviceGraphMemTrim(int) { return cudaSuccess; }  // a graph's memory goes with its last handle
cudaError_t cudaMalloc(void** p, size_t bytes) {
  // Exactly `bytes` (256-aligned like the device allocators): AddressSanitizer then sees reads past the end.
  *p = nullptr;
  if (posix_memalign(p, 256, bytes == 0 ? 1 : bytes) != 0) *p = nullptr;
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, hn_emu::kPoison, bytes);  // never zero, as a pool's reused block would not be
  std::lock_guard<std::mutex> lock(hn_emu::g_alloc_mutex);
  hn_emu::g_allocs[reinterpret_cast<uintptr_t>(*p)] = bytes;
  return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t s) {
  const cudaError_t e = cudaMalloc(p, bytes);
  if (e == cudaSuccess && capturing(s)) {
    s->memory->blocks.push_back(*p);
    void* const block = *p;
    s->nodes.push_back([block, bytes] { std::memset(block, hn_emu::kPoison, bytes); });
  }
  return e;
}
cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(hn_emu::g_alloc_mutex);
    const auto it = hn_emu::g_allocs.find(reinterpret_cast<uintptr_t>(p));
    if (it == hn_emu::g_allocs.end()) return cudaErrorInvalidValue;  // not an allocation's base
    hn_emu::g_allocs.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  if (capturing(s)) {
    const auto& owned = s->memory->blocks;
    // Memory of the graph stays until the graph goes; a block from outside cannot be freed inside a graph here.
    return std::find(owned.begin(), owned.end(), p) != owned.end() ? cudaSuccess : cudaErrorStreamCaptureUnsupported;
  }
  return cudaFree(p);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t s) {
  if (capturing(s)) {
    s->nodes.push_back([dst, src, bytes] { std::memmove(dst, src, bytes); });
  } else {
    std::memmove(dst, src, bytes);
  }
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t s) {
  if (capturing(s)) {
    s->nodes.push_back([dst, value, bytes] { std::memset(dst, value, bytes); });
  } else {
    std::memset(dst, value, bytes);
  }
  return cudaSuccess;
}
struct EmuEvent {
  std::chrono::steady_clock::time_point t;
};
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  static std::vector<std::unique_ptr<EmuEvent>> events;  // handles live until exit (a test shim)
  events.push_back(std::make_unique<EmuEvent>());
  *e = events.back().get();
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (capturing(s)) return cudaErrorStreamCaptureUnsupported;  // not used inside graphs here
  e->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
