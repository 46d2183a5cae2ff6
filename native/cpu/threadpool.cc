#include "threadpool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

namespace hn {
namespace cpu {

namespace {
thread_local bool tl_inside_task = false;

// How long a worker spins for the next job before it sleeps, and how long the caller spins for the workers'
// last tasks before it sleeps: both avoid a futex round trip that costs more than a small kernel.
constexpr std::chrono::microseconds kWorkerSpin{100};
constexpr std::chrono::microseconds kCallerSpin{50};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int i = 0; i + 1 < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_tasks(bool from_front) {
  const bool was_inside = tl_inside_task;
  tl_inside_task = true;
  const int64_t threads = size();
  for (;;) {
    // Tasks are taken a run at a time, a 2 * threads-th of those left (at least one): a region of many
    // small tasks (one per sample) costs a few lock round trips instead of two per task, and the last
    // tasks still spread over the threads. Which thread runs a task never changes what it computes.
    int64_t begin, end;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const int64_t left = back_ - front_;
      if (left <= 0) break;
      const int64_t take = std::max<int64_t>(1, left / (2 * threads));
      if (from_front) {
        begin = front_;
        front_ += take;
        end = front_;
      } else {
        end = back_;
        back_ -= take;
        begin = back_;
      }
    }
    for (int64_t task = begin; task < end; ++task) {
      try {
        (*job_)(task);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ += end - begin;
    if (finished_ == tasks_) done_.notify_all();
  }
  tl_inside_task = was_inside;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  // Counted as spinning from the moment it leaves its last job (in the same locked section, below), so that
  // hot() does not read false in the gap between a job's end and the spin loop.
  spinning_.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    // Spin briefly before sleeping: kernels come in quick succession, and a futex wake-up costs 30-80 us,
    // as much as a whole small GEMM.
    const auto spin_until = std::chrono::steady_clock::now() + kWorkerSpin;
    for (unsigned spin = 1; generation_.load(std::memory_order_acquire) == seen; ++spin) {
      if (spin % 64 == 0 && std::chrono::steady_clock::now() >= spin_until) break;  // the clock is not free
      cpu_relax();
    }
    spinning_.fetch_sub(1, std::memory_order_relaxed);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_;
    }
    run_tasks(false);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--active_ == 0) done_.notify_all();
    spinning_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ThreadPool::parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  std::unique_lock<std::mutex> owner(busy_, std::defer_lock);
  if (tasks == 1 || workers_.empty() || tl_inside_task || !owner.try_lock()) {
    const bool was_inside = tl_inside_task;
    tl_inside_task = true;
    try {
      for (int64_t t = 0; t < tasks; ++t) fn(t);
    } catch (...) {
      tl_inside_task = was_inside;
      throw;
    }
    tl_inside_task = was_inside;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    tasks_ = tasks;
    front_ = 0;
    back_ = tasks;
    finished_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_tasks(true);
  // A worker usually finishes its last task within microseconds of this thread: wait for it awake first.
  const auto spin_until = std::chrono::steady_clock::now() + kCallerSpin;
  // Watched without the mutex, which the workers need to take and finish their tasks.
  for (unsigned spin = 1;; ++spin) {
    if (finished_.load(std::memory_order_acquire) == tasks_ && active_.load(std::memory_order_acquire) == 0) break;
    if (spin % 64 == 0 && std::chrono::steady_clock::now() >= spin_until) break;
    cpu_relax();
  }
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Wait for every task to finish and for every worker to leave run_tasks before the job goes away.
    done_.wait(lock, [&] { return finished_ == tasks_ && active_ == 0; });
    job_ = nullptr;
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

bool ThreadPool::hot() const noexcept {
  return !workers_.empty() && spinning_.load(std::memory_order_relaxed) == static_cast<int>(workers_.size());
}

void ThreadPool::nudge() {
  if (workers_.empty() || hot() || tl_inside_task) return;
  std::unique_lock<std::mutex> owner(busy_, std::try_to_lock);
  if (!owner.owns_lock()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (active_ > 0) return;
    // An empty job: a worker that wakes for it finds no task, leaves run_tasks and spins. It may instead
    // take tasks of the next job, if one is posted meanwhile; that job's caller waits for it as for any
    // worker (active_).
    job_ = nullptr;
    tasks_ = 0;
    front_ = 0;
    back_ = 0;
    finished_ = 0;
    ++generation_;
  }
  wake_.notify_all();
}

namespace {
// HYPERNOISE_NUM_THREADS as a thread count, or 0 when it is unset or not an integer from 1 to 1024.
int threads_from_env(const char* env) {
  if (!env) return 0;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  return end != env && *end == '\0' && v > 0 && v <= 1024 ? static_cast<int>(v) : 0;
}
}  // namespace

int configured_threads() {
  if (const int v = threads_from_env(std::getenv("HYPERNOISE_NUM_THREADS"))) return v;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

std::string threads_env_problem() {
  const char* env = std::getenv("HYPERNOISE_NUM_THREADS");
  if (!env || threads_from_env(env) > 0) return "";
  return std::string("HYPERNOISE_NUM_THREADS='") + env + "' is not an integer from 1 to 1024: the hardware threads (" +
         std::to_string(std::thread::hardware_concurrency()) + ") are used";
}

ThreadPool& global_pool() {
  static ThreadPool pool(configured_threads());
  return pool;
}

}  // namespace cpu
}  // namespace hn
