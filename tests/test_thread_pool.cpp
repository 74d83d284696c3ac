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

TEST_CASE("parallel_for visits every index exactly once", "[thread_pool]") {
  for (int threads : {1, 2, 3, 8}) {
    resnet::ThreadPool pool(threads);
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
  for (int threads : {1, 2, 3, 8}) {
    resnet::ThreadPool pool(threads);
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
