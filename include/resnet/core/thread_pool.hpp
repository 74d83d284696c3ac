#pragma once
/// A small fork-join pool. The calling thread takes part in every job, so a pool of
/// T threads starts T-1 workers. Work is handed out as tasks to whichever thread is free,
/// and a job never waits for a worker that has not woken up yet (see parallel_tasks).
/// Kernels never start threads of their own: a forward pass uses exactly the threads of
/// the pool it was given.
///
/// Between jobs a worker spins for a short while (kDefaultSpinMicroseconds, 200)
/// before it sleeps on a condition variable. A forward pass is a hundred or so jobs a
/// few microseconds apart, and waking a sleeping worker took 20-37 us on this VM each
/// time (two-thread jobs of two 50 us tasks: 70-88 us a job with sleeping workers,
/// 50-51 us with spinning ones). The caller likewise spins until the workers inside its
/// job are done. ONNX Runtime's and OpenMP's threads spin for milliseconds; 200 us covers
/// the gaps inside a pass and gives the core back soon after it.
///
/// A pool belongs to one caller at a time (it lives in a Workspace); two host threads
/// that each own a workspace each own a pool, and choose its size.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace resnet {

class ThreadPool {
 public:
  static constexpr int kDefaultSpinMicroseconds = 200;

  /// threads <= 0 means one per hardware core. A worker spins for spin_microseconds after
  /// each job before it sleeps (0: it sleeps at once, as an oversubscribed machine wants).
  explicit ThreadPool(int threads = 0, int spin_microseconds = kDefaultSpinMicroseconds)
      : spin_(std::chrono::microseconds(std::max(spin_microseconds, 0))) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    size_ = threads;
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    stopping_.store(true);
    wake_sleepers();
    for (auto& t : workers_) t.join();
  }

  int size() const noexcept { return size_; }

  /// Runs body(begin, end) over [0, count) split into contiguous chunks (a few per
  /// thread, so a late thread's share is taken over) and returns when all are done.
  /// Chunks are handed out like parallel_tasks' tasks, so a chunk may run on any thread.
  template <class Body>
  void parallel_for(std::ptrdiff_t count, Body&& body) {
    if (count <= 0) return;
    const std::ptrdiff_t parts = size_ == 1 ? 1 : std::min<std::ptrdiff_t>(4 * size_, count);
    parallel_tasks(parts, [&](std::ptrdiff_t part, int) { body(count * part / parts, count * (part + 1) / parts); });
  }

  /// Runs body(task, thread) for every task in [0, tasks), handing the tasks out in
  /// order, one at a time, to whichever thread is free; `thread` (0 for the caller,
  /// 1 .. size()-1 for the workers) selects per-thread scratch. Which thread runs a task
  /// must not change its result. If a task throws, tasks not yet handed out are skipped
  /// and the first exception is rethrown once every started task has finished.
  ///
  /// A sleeping worker takes tens of microseconds to wake, and the host may deschedule
  /// one. So nothing waits for a late thread: the caller takes over the tasks it has not
  /// started, and once all tasks are handed out, workers that have not joined yet are
  /// shut out of the job instead of waited for.
  template <class Body>
  void parallel_tasks(std::ptrdiff_t tasks, Body&& body) {
    if (tasks <= 0) return;
    if (size_ == 1 || tasks == 1) {
      for (std::ptrdiff_t t = 0; t < tasks; ++t) body(t, 0);
      return;
    }
    struct Job {
      std::remove_reference_t<Body>* body;
      std::ptrdiff_t tasks;
      std::atomic<std::ptrdiff_t> next{0};
      static void run(void* self, int thread) {
        auto& job = *static_cast<Job*>(self);
        try {
          for (std::ptrdiff_t t; (t = job.next.fetch_add(1, std::memory_order_relaxed)) < job.tasks;)
            (*job.body)(t, thread);
        } catch (...) {
          job.next.store(job.tasks, std::memory_order_relaxed);  // the others stop taking tasks
          throw;
        }
      }
    } job{&body, tasks};
    run_job(&Job::run, &job, static_cast<int>(std::min<std::ptrdiff_t>(size_, tasks)));
  }

 private:
  // Runs task(context, thread) on the calling thread (thread 0) and on each of workers
  // 1 .. threads-1 that joins before the caller's own call returns; returns when every
  // call is done, rethrowing the first exception of any. A function pointer and a
  // context rather than std::function: no heap allocation.
  //
  // The handshake, all sequentially consistent: the caller writes the job, opens it and
  // bumps generation_; a worker that sees the new generation counts itself into active_,
  // then checks that the job is still open and still the one it saw, else counts itself
  // out untouched. The caller closes the job, then waits for active_ to reach 0: a worker
  // either counted itself in before the close (and is waited for) or finds it closed.
  void run_job(void (*task)(void*, int), void* context, int threads) {
    task_ = task;
    context_ = context;
    threads_ = threads;
    caller_cpu_ = current_cpu();
    open_.store(true);
    generation_.fetch_add(1);
    wake_sleepers();
    std::exception_ptr error;
    try {
      task(context, 0);
    } catch (...) {
      error = std::current_exception();
    }
    // The job lives on this stack frame: close it to workers that have not joined, and
    // wait for those that have (they are running tasks), even if our share threw.
    open_.store(false);
    for (unsigned spins = 0; active_.load() != 0; ++spins) pause(spins);
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error) std::swap(error, worker_error_);
    worker_error_ = nullptr;
    if (error) std::rethrow_exception(error);
  }

  void worker_loop(int index) {
    unsigned long long seen = 0;
    int avoided_cpu = -1;
    for (;;) {
      seen = wait_for_job(seen);
      if (stopping_.load()) return;
      active_.fetch_add(1);
      if (open_.load() && generation_.load() == seen && index < threads_) {
        keep_off_cpu(caller_cpu_, avoided_cpu);
        try {
          task_(context_, index);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex_);
          if (!worker_error_) worker_error_ = std::current_exception();
        }
      }
      active_.fetch_sub(1);
    }
  }

  // Returns the first generation after `seen` (or `seen` once stopping): spins for spin_,
  // then sleeps on wake_. A sleeper counts itself in sleepers_ before it checks, and a
  // caller bumps generation_ before it reads sleepers_, so one of the two sees the other.
  unsigned long long wait_for_job(unsigned long long seen) {
    const auto spin_until = std::chrono::steady_clock::now() + spin_;
    for (unsigned spins = 0;; ++spins) {
      const unsigned long long now = generation_.load();
      if (now != seen || stopping_.load()) return now;
      if (spins % 64 == 63 && std::chrono::steady_clock::now() >= spin_until) break;
      pause(0);
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    sleepers_.fetch_add(1);
    wake_.wait(lock, [&] { return generation_.load() != seen || stopping_.load(); });
    sleepers_.fetch_sub(1);
    return generation_.load();
  }

  void wake_sleepers() {
    if (sleepers_.load() == 0) return;
    { std::lock_guard<std::mutex> lock(sleep_mutex_); }  // a sleeper between its check and its wait
    wake_.notify_all();
  }

  // One step of a spin wait: a pause instruction, and after a while a yield, so a
  // waiter on an oversubscribed CPU lets the thread it waits for run.
  static void pause(unsigned spins) {
    if (spins > 4096) {
      std::this_thread::yield();
      return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  static int current_cpu() {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
  }

  // After an idle spell Linux tends to wake a worker onto its waker's CPU (measured on
  // this 2-vCPU VM: after 250 ms idle, the next few ResNet-18 passes ran with both threads
  // on one CPU, 19.4 ms instead of 11.5, until the load balancer separated them). So a
  // worker keeps off the CPU its caller runs on: it may run on any other CPU the process
  // is allowed, and changes that (one system call) only when the caller has moved.
  static void keep_off_cpu(int caller_cpu, int& avoided_cpu) {
#if defined(__linux__)
    if (caller_cpu < 0 || caller_cpu == avoided_cpu) return;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    if (avoided_cpu >= 0) CPU_SET(avoided_cpu, &allowed);  // give back the CPU avoided so far
    cpu_set_t others = allowed;
    CPU_CLR(caller_cpu, &others);
    if (CPU_COUNT(&others) == 0 || !CPU_ISSET(caller_cpu, &allowed)) return;  // nowhere else to go
    if (sched_setaffinity(0, sizeof others, &others) == 0) avoided_cpu = caller_cpu;
#else
    (void)caller_cpu;
    (void)avoided_cpu;
#endif
  }

  int size_ = 1;
  std::chrono::steady_clock::duration spin_;
  std::vector<std::thread> workers_;
  // The current job: written by the caller before it bumps generation_, read by a worker
  // only after it has counted itself into active_ and found the job open (run_job).
  void (*task_)(void*, int) = nullptr;
  void* context_ = nullptr;
  int threads_ = 0;  // threads the current job may use
  int caller_cpu_ = -1;
  std::atomic<unsigned long long> generation_{0};
  std::atomic<bool> open_{false};
  std::atomic<int> active_{0};  // workers inside the current job
  std::atomic<bool> stopping_{false};
  std::mutex error_mutex_;
  std::exception_ptr worker_error_;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace resnet
