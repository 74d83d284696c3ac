#pragma once
/// A small fork-join pool. The calling thread takes part in every job, so a pool of
/// T threads starts T-1 workers. Workers sleep on a condition variable between jobs
/// (no busy-waiting between layers), and kernels never start threads of their own:
/// a forward pass uses exactly the threads of the pool it was given.
///
/// A pool belongs to one caller at a time (it lives in a Workspace); two host threads
/// that each own a workspace each own a pool, and choose its size.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

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

  /// Runs body(begin, end) over [0, count) split into at most size() contiguous
  /// chunks, one per thread, and returns when all are done.
  template <class Body>
  void parallel_for(std::ptrdiff_t count, Body&& body) {
    if (count <= 0) return;
    const int parts = static_cast<int>(std::min<std::ptrdiff_t>(size_, count));
    if (parts == 1) {
      body(std::ptrdiff_t{0}, count);
      return;
    }
    // A plain function pointer plus context: no std::function, so no heap allocation.
    struct Job {
      Body* body;
      std::ptrdiff_t count;
      int parts;
      static void run(void* self, int i) {
        auto& job = *static_cast<Job*>(self);
        (*job.body)(job.count * i / job.parts, job.count * (i + 1) / job.parts);
      }
    } job{&body, count, parts};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &Job::run;
      context_ = &job;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    // The workers read `job` on this stack frame: wait for them even if our share throws,
    // then rethrow the first exception of any chunk.
    std::exception_ptr error;
    try {
      Job::run(&job, 0);
    } catch (...) {
      error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
    if (!error) std::swap(error, worker_error_);
    worker_error_ = nullptr;
    if (error) std::rethrow_exception(error);
  }

 private:
  void worker_loop(int index) {
    unsigned long long seen = 0;
    for (;;) {
      void (*task)(void*, int) = nullptr;
      void* context = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= parts_) continue;  // this job has fewer chunks than threads
        task = task_;
        context = context_;
      }
      std::exception_ptr error;
      try {
        task(context, index);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !worker_error_) worker_error_ = error;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  void (*task_)(void*, int) = nullptr;
  void* context_ = nullptr;
  std::exception_ptr worker_error_;
  int parts_ = 0;
  int pending_ = 0;
  unsigned long long generation_ = 0;
  bool stopping_ = false;
};

}  // namespace resnet
