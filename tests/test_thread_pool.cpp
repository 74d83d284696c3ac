// The fork-join pool: every index and task is visited once, on a valid thread index
// that no two running tasks share, and an exception in any task reaches the caller
// only after every task that started has finished.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <resnet/core/thread_pool.hpp>

// Workers that spin between jobs and workers that sleep at once take the same path
// into a job; both are checked.
TEST_CASE("parallel_for visits every index exactly once", "[thread_pool]") {
  for (int threads : {1, 2, 3, 8}) for (int spin : {0, resnet::ThreadPool::kDefaultSpinMicroseconds}) {
    resnet::ThreadPool pool(threads, spin);
    for (std::ptrdiff_t count : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
      pool.parallel_for(count, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
        for (std::ptrdiff_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
      });
      for (auto& h : hits) CHECK(h.load() == 1);
    }
  }
}

TEST_CASE("parallel_tasks runs every task once, on a thread index within the pool", "[thread_pool]") {
  for (int threads : {1, 2, 3, 8}) for (int spin : {0, resnet::ThreadPool::kDefaultSpinMicroseconds}) {
    resnet::ThreadPool pool(threads, spin);
    for (std::ptrdiff_t tasks : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(tasks));
      std::atomic<int> bad_thread{0};
      pool.parallel_tasks(tasks, [&](std::ptrdiff_t t, int thread) {
        hits[static_cast<std::size_t>(t)]++;
        if (thread < 0 || thread >= threads) bad_thread++;
      });
      for (auto& h : hits) CHECK(h.load() == 1);
      CHECK(bad_thread.load() == 0);
    }
  }
}

TEST_CASE("two tasks never share a thread index at the same time", "[thread_pool]") {
  // Kernels index per-thread scratch by it.
  resnet::ThreadPool pool(4);
  std::vector<std::atomic<int>> busy(4);
  std::atomic<int> overlaps{0};
  pool.parallel_tasks(2000, [&](std::ptrdiff_t, int thread) {
    if (busy[static_cast<std::size_t>(thread)]++ != 0) overlaps++;
    for (volatile int spin = 0; spin < 200; spin = spin + 1) {
    }
    busy[static_cast<std::size_t>(thread)]--;
  });
  CHECK(overlaps.load() == 0);
}

TEST_CASE("jobs after a worker has gone to sleep still reach it", "[thread_pool]") {
  // A worker spins a while after each job, then sleeps; the next job must wake it.
  resnet::ThreadPool pool(2, 50);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: the worker sleeps
    std::atomic<int> worker_tasks{0};
    for (int attempt = 0; attempt < 50 && worker_tasks.load() == 0; ++attempt)
      pool.parallel_tasks(8, [&](std::ptrdiff_t, int thread) {
        if (thread != 0) worker_tasks++;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      });
    CHECK(worker_tasks.load() > 0);
  }
}

TEST_CASE("an exception in a task is rethrown once no task is running", "[thread_pool]") {
  // Tasks not yet handed out when one throws are skipped; those already running finish
  // before the caller sees the exception, so none outlives the call's stack frame.
  resnet::ThreadPool pool(4);
  for (std::ptrdiff_t failing : {0, 3, 40}) {
    std::atomic<int> running{0}, started{0}, finished{0};
    CHECK_THROWS_AS(pool.parallel_tasks(64,
                                        [&](std::ptrdiff_t t, int) {
                                          started++;
                                          running++;
                                          if (t == failing) {
                                            running--;
                                            throw std::runtime_error("task failed");
                                          }
                                          std::this_thread::sleep_for(std::chrono::microseconds(200));
                                          running--;
                                          finished++;
                                        }),
                    std::runtime_error);
    CHECK(running.load() == 0);
    CHECK(finished.load() == started.load() - 1);
  }
  // parallel_for's chunks are tasks: the same holds there.
  std::atomic<int> running{0};
  CHECK_THROWS_AS(pool.parallel_for(4,
                                    [&](std::ptrdiff_t b, std::ptrdiff_t) {
                                      running++;
                                      if (b == 0) {
                                        running--;
                                        throw std::runtime_error("chunk failed");
                                      }
                                      std::this_thread::sleep_for(std::chrono::microseconds(200));
                                      running--;
                                    }),
                  std::runtime_error);
  CHECK(running.load() == 0);
  // The pool is still usable afterwards.
  std::atomic<int> sum{0};
  pool.parallel_for(10, [&](std::ptrdiff_t b, std::ptrdiff_t e) { sum += static_cast<int>(e - b); });
  CHECK(sum.load() == 10);
}

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>

TEST_CASE("workers keep off the caller's CPU", "[thread_pool]") {
  // After an idle spell Linux may wake a worker onto its waker's CPU, halving the
  // threads a forward pass really has; the pool steers its workers elsewhere.
  cpu_set_t original;
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof original, &original) == 0);
  if (CPU_COUNT(&original) < 2) {
    WARN("fewer than 2 CPUs allowed: nothing to check");
    return;
  }
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  resnet::ThreadPool pool(2);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0);  // the caller on `first`
  std::atomic<int> worker_tasks{0}, worker_may_use_caller_cpu{0};
  for (int attempt = 0; attempt < 20 && worker_tasks.load() == 0; ++attempt)
    pool.parallel_tasks(64, [&](std::ptrdiff_t, int thread) {
      if (thread != 0) {
        cpu_set_t mine;
        pthread_getaffinity_np(pthread_self(), sizeof mine, &mine);
        worker_tasks++;
        if (CPU_ISSET(first, &mine)) worker_may_use_caller_cpu++;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
  pthread_setaffinity_np(pthread_self(), sizeof original, &original);
  REQUIRE(worker_tasks.load() > 0);
  CHECK(worker_may_use_caller_cpu.load() == 0);
}
#endif
