// The host emulator behind cuda_runtime.h here: device memory is host memory, streams and events are
// immediate, and a kernel launch runs its blocks one after the other with every CUDA thread of a block as a
// fiber (ucontext). A fiber runs until it reaches __syncthreads() or a warp intrinsic; the scheduler resumes
// the runnable fibers in a shuffled order (fixed seed: reproducible), so a read of shared memory that lacks
// a barrier after the write it depends on sees a different interleaving than the code assumes and shows
// up as a parity failure. A barrier that not every thread of the block (or warp) reaches is a deadlock,
// reported with the kernel's configuration.
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "emu_runtime.h"

uint3 threadIdx = {0, 0, 0};
uint3 blockIdx = {0, 0, 0};
dim3 blockDim;
dim3 gridDim;

namespace hn_emu {
namespace {

enum class State { Runnable, WaitBlock, WaitWarp, Done };

struct Fiber {
  ucontext_t ctx;
  State state = State::Done;
  unsigned tid = 0;
};

constexpr size_t kStackBytes = 128 * 1024;
constexpr unsigned kMaxThreads = 1024;

std::vector<Fiber> g_fibers;
std::vector<std::unique_ptr<char[]>> g_stacks;
ucontext_t g_sched;
Fiber* g_cur = nullptr;
const std::function<void()>* g_body = nullptr;
uint64_t g_slots[kMaxThreads / 32][32];  // warp exchange: [warp][lane]
cudaError_t g_last_error = cudaSuccess;
std::mt19937 g_order_rng(12345);

void yield(State s) {
  g_cur->state = s;
  swapcontext(&g_cur->ctx, &g_sched);
}

void fiber_entry() {
  (*g_body)();
  g_cur->state = State::Done;
  // returning resumes uc_link, the scheduler
}

template <class T>
T shfl_xor(T v, int lane_mask) {
  const unsigned w = g_cur->tid / 32, lane = g_cur->tid % 32;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  g_slots[w][lane] = bits;
  yield(State::WaitWarp);
  const uint64_t other = g_slots[w][(lane ^ static_cast<unsigned>(lane_mask)) % 32];
  yield(State::WaitWarp);  // everyone has read before anyone writes the next exchange
  T r;
  std::memcpy(&r, &other, sizeof(T));
  return r;
}

}  // namespace

void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
  const unsigned T = block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || T == 0 || T > kMaxThreads || block.y > 1024 || block.z > 64 ||
      grid.y > 65535 || grid.z > 65535) {
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
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3{bx, by, bz};
        for (unsigned t = 0; t < T; ++t) {
          Fiber& f = g_fibers[t];
          f.tid = t;
          f.state = State::Runnable;
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

void __syncthreads() { hn_emu::yield(hn_emu::State::WaitBlock); }
double __shfl_xor_sync(unsigned, double v, int m) { return hn_emu::shfl_xor(v, m); }
float __shfl_xor_sync(unsigned, float v, int m) { return hn_emu::shfl_xor(v, m); }
int __shfl_xor_sync(unsigned, int v, int m) { return hn_emu::shfl_xor(v, m); }
int __any_sync(unsigned, int pred) {
  // OR over the warp by a butterfly of exchanges, as the hardware would see it.
  int v = pred != 0;
  for (int off = 16; off > 0; off >>= 1) v |= hn_emu::shfl_xor(v, off);
  return v;
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
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = nullptr;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  // Exactly `bytes` (256-aligned like the device allocators): AddressSanitizer then sees reads past the end.
  *p = nullptr;
  if (posix_memalign(p, 256, bytes == 0 ? 1 : bytes) != 0) *p = nullptr;
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return cudaFree(p); }
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
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
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  e->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
