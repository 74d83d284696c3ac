#pragma once
/// A small fork-join pool. The calling thread takes part in every job, so a pool of
/// T threads starts T-1 workers. Workers sleep on a condition variable between jobs
/// (no busy-waiting between layers), and kernels never start threads of their own:
/// a forward pass uses exactly the threads of the pool it was given. Work is handed out
/// as tasks to whichever thread is free, and a job never waits for a worker that has not
/// woken up yet (see parallel_tasks).
///
/// A pool belongs to one caller at a time (it lives in a Workspace); two host threads
/// that each own a workspace each own a pool, and choose its size.

#include <algorithm>
#include <atomic>
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
  /// threads <= 0 means one per hardware core.
  explicit ThreadPool(int threads = 0) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    size_ = threads;
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
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
  /// Waking a sleeping worker takes ~25 us on this VM, and the host may deschedule one.
  /// So nothing waits for a late thread: the caller takes over the tasks it has not
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
  void run_job(void (*task)(void*, int), void* context, int threads) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      threads_ = threads;
      caller_cpu_ = current_cpu();
      open_ = true;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr error;
    try {
      task(context, 0);
    } catch (...) {
      error = std::current_exception();
    }
    // The job lives on this stack frame: close it to workers that have not joined, and
    // wait for those that have, even if our share threw.
    std::unique_lock<std::mutex> lock(mutex_);
    open_ = false;
    done_.wait(lock, [this] { return active_ == 0; });
    task_ = nullptr;
    if (!error) std::swap(error, worker_error_);
    worker_error_ = nullptr;
    if (error) std::rethrow_exception(error);
  }

  void worker_loop(int index) {
    unsigned long long seen = 0;
    int avoided_cpu = -1;
    for (;;) {
      void (*task)(void*, int) = nullptr;
      void* context = nullptr;
      int caller_cpu = -1;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (!open_ || index >= threads_) continue;  // too late, or more threads than tasks
        ++active_;
        task = task_;
        context = context_;
        caller_cpu = caller_cpu_;
      }
      keep_off_cpu(caller_cpu, avoided_cpu);
      std::exception_ptr error;
      try {
        task(context, index);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !worker_error_) worker_error_ = error;
      if (--active_ == 0) done_.notify_one();
    }
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
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  void (*task_)(void*, int) = nullptr;
  void* context_ = nullptr;
  std::exception_ptr worker_error_;
  int threads_ = 0;  // threads the current job may use
  int caller_cpu_ = -1;
  int active_ = 0;   // workers inside the current job
  bool open_ = false;
  unsigned long long generation_ = 0;
  bool stopping_ = false;
};

}  // namespace resnet
