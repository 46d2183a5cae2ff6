// A fixed pool of worker threads for the CPU backend. Sized by HYPERNOISE_NUM_THREADS (default: the
// hardware thread count). Kernels split work into tasks whose results do not depend on which thread runs
// them, so outputs are bit-identical for every thread count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

namespace hn {
namespace cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task) for every task in [0, tasks); the calling thread takes part. Blocks until all are done
  // and rethrows the first exception a task threw. Called from inside a task, or while another caller
  // holds the pool, it runs the tasks inline on the calling thread (same results, no deadlock).
  void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn);

  // True while every worker is spinning for its next job (after a job, for a short while): a job handed to
  // them now starts within a microsecond or two instead of a futex wake-up (30-80 us). Kernels may use it
  // to split work they would otherwise run on one thread; it must never change what they compute.
  bool hot() const noexcept;

  // Wakes sleeping workers without giving them work and returns at once, so that they spin (hot()) by the
  // time the next small jobs come. Does nothing while the pool is in use.
  void nudge();

 private:
  void worker_loop();
  void run_tasks(bool from_front);

  std::vector<std::thread> workers_;
  std::mutex busy_;  // one parallel_for at a time owns the workers
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t tasks_ = 0;
  // Tasks not yet taken are [front_, back_): the caller takes them from the front, workers from the back,
  // so with two threads and two tasks each takes the same task on every call (the same columns of the same
  // weights, which then stay in that core's cache) unless one of them is late; with more workers, the
  // caller keeps its task and the workers race for the rest.
  int64_t front_ = 0;
  int64_t back_ = 0;
  // Changed under mutex_; atomic so that the caller can watch them without taking it (see parallel_for).
  std::atomic<int64_t> finished_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> spinning_{0};  // workers in their spin loop
  std::atomic<int> active_{0};
  bool stop_ = false;
  std::exception_ptr error_;
};

// The process-wide pool (created on first use).
ThreadPool& global_pool();
// Threads the global pool uses: HYPERNOISE_NUM_THREADS if set to a positive integer, else hardware threads.
int configured_threads();
// What is wrong with HYPERNOISE_NUM_THREADS ("" when unset or valid): then the hardware threads are used.
std::string threads_env_problem();

// Splits [0, n) into `tasks` contiguous chunks; chunk t is [begin, end).
inline void chunk_range(int64_t n, int64_t tasks, int64_t t, int64_t* begin, int64_t* end) {
  const int64_t base = n / tasks, rem = n % tasks;
  *begin = t * base + (t < rem ? t : rem);
  *end = *begin + base + (t < rem ? 1 : 0);
}

}  // namespace cpu
}  // namespace hn
