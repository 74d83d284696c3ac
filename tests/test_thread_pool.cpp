// The fork-join pool: every index is visited once, chunks are contiguous, and an
// exception in any chunk reaches the caller after all chunks have finished.
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
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

TEST_CASE("an exception in any chunk is rethrown after every chunk has finished", "[thread_pool]") {
  resnet::ThreadPool pool(4);
  for (std::ptrdiff_t failing : {0, 3}) {  // the caller's own chunk, then a worker's
    std::atomic<int> finished{0};
    CHECK_THROWS_AS(pool.parallel_for(4,
                                      [&](std::ptrdiff_t b, std::ptrdiff_t) {
                                        if (b == failing) throw std::runtime_error("chunk failed");
                                        finished++;
                                      }),
                    std::runtime_error);
    CHECK(finished.load() == 3);
  }
  // The pool is still usable afterwards.
  std::atomic<int> sum{0};
  pool.parallel_for(10, [&](std::ptrdiff_t b, std::ptrdiff_t e) { sum += static_cast<int>(e - b); });
  CHECK(sum.load() == 10);
}
