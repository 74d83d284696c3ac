// One loaded model shared by many threads (issue 5, item 4): each thread brings its own
// Workspace, valid and invalid inputs interleave, every valid output equals the result
// of the same call made alone (same thread count, so bit for bit) and every invalid one
// gets its error kind. Built under ThreadSanitizer by scripts/test.sh, where a data race
// fails the run (TSAN_OPTIONS=halt_on_error=1).
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <resnet/resnet.hpp>

using namespace resnet;

namespace {

struct Models {
  ResNet18 resnet18;
  CifarResNet20 cifar;
  CifarResNet20 cifar_capped{capped()};
  ResNet18 empty;  // never loaded

  Models() {
    resnet18.init_random(11);
    cifar.init_random(12);
    cifar_capped.init_random(13);
  }
  static ModelOptions capped() {
    ModelOptions o;
    o.max_batch_pixels = 32 * 32;
    return o;
  }
};

enum class Call { forward, stages };

struct Case {
  const char* what = "";
  int model = 0;  ///< 0 resnet18, 1 cifar, 2 cifar_capped, 3 empty
  Call call = Call::forward;
  Tensor input;
  bool valid = true;
  ErrorKind error = ErrorKind::io;            ///< when !valid
  std::vector<std::vector<float>> expected;  ///< per output, when valid
};

Tensor input(int n, int h, int w, int c, unsigned seed, Layout layout = Layout::nhwc) {
  Tensor t(n, h, w, c, layout);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (float& v : t.values()) v = u(rng);
  return t;
}

Case ok(const char* what, int model, Call call, Tensor x) {
  Case c;
  c.what = what;
  c.model = model;
  c.call = call;
  c.input = std::move(x);
  c.valid = true;
  return c;
}
Case bad(const char* what, int model, Call call, Tensor x, ErrorKind error) {
  Case c = ok(what, model, call, std::move(x));
  c.valid = false;
  c.error = error;
  return c;
}

std::vector<Case> make_cases() {
  std::vector<Case> c;
  c.push_back(ok("resnet18 64x64", 0, Call::forward, input(1, 64, 64, 3, 1)));
  c.push_back(ok("resnet18 2x48x40 NCHW", 0, Call::forward, input(2, 48, 40, 3, 2, Layout::nchw)));
  c.push_back(ok("resnet18 32x32", 0, Call::forward, input(1, 32, 32, 3, 3)));
  c.push_back(ok("resnet18 stages 40x56", 0, Call::stages, input(1, 40, 56, 3, 4)));
  c.push_back(ok("cifar 32x32", 1, Call::forward, input(1, 32, 32, 3, 5)));
  c.push_back(ok("cifar 3x16x12", 1, Call::forward, input(3, 16, 12, 3, 6)));
  c.push_back(ok("cifar_capped 32x32", 2, Call::forward, input(1, 32, 32, 3, 7, Layout::nchw)));
  c.push_back(bad("resnet18 4 channels", 0, Call::forward, input(1, 64, 64, 4, 8), ErrorKind::shape_mismatch));
  c.push_back(bad("resnet18 1 channel", 0, Call::stages, input(1, 64, 64, 1, 9), ErrorKind::shape_mismatch));
  c.push_back(bad("resnet18 16x64", 0, Call::forward, input(1, 16, 64, 3, 10), ErrorKind::invalid_argument));
  c.push_back(bad("no weights", 3, Call::forward, input(1, 64, 64, 3, 11), ErrorKind::invalid_argument));
  c.push_back(bad("cifar_capped 2x32x32", 2, Call::forward, input(2, 32, 32, 3, 12), ErrorKind::too_large));
  c.push_back(bad("cifar empty input", 1, Call::forward, Tensor(), ErrorKind::invalid_argument));
  return c;
}

/// Runs one case; returns the outputs (one for forward, four for stages).
std::vector<std::vector<float>> call(const Models& m, const Case& c, Workspace& ws, Tensor& out,
                                     std::vector<Tensor>& stages) {
  auto forward = [&](const auto& model) -> std::vector<std::vector<float>> {
    if (c.call == Call::stages) {
      model.forward_stages(c.input, stages, ws);
      std::vector<std::vector<float>> r;
      for (const Tensor& s : stages) r.push_back(s.values());
      return r;
    }
    model.forward(c.input, out, ws);
    return {out.values()};
  };
  switch (c.model) {
    case 0: return forward(m.resnet18);
    case 1: return forward(m.cifar);
    case 2: return forward(m.cifar_capped);
    default: return forward(m.empty);
  }
}

struct Tally {
  int valid_ok = 0, valid_wrong = 0, invalid_ok = 0, invalid_wrong = 0;
  std::string first_problem;
};

/// `threads` host threads, each with its own Workspace(pool_threads), each making
/// `iterations` calls that walk the cases from a different starting point.
std::vector<Tally> hammer(const Models& m, const std::vector<Case>& cases, int threads, int pool_threads,
                          int iterations) {
  std::vector<Tally> tallies(static_cast<std::size_t>(threads));
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      Workspace ws(pool_threads);
      Tensor out;
      std::vector<Tensor> stages;
      Tally& tally = tallies[static_cast<std::size_t>(t)];
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();  // start together
      for (int i = 0; i < iterations; ++i) {
        const Case& c = cases[static_cast<std::size_t>(t * 5 + i * (t % 2 ? 3 : 1)) % cases.size()];
        try {
          const auto got = call(m, c, ws, out, stages);
          if (c.valid && got == c.expected) {
            ++tally.valid_ok;
          } else {
            ++tally.valid_wrong;
            if (tally.first_problem.empty())
              tally.first_problem = std::string(c.what) + (c.valid ? ": output differs" : ": no error");
          }
        } catch (const Error& e) {
          if (!c.valid && e.kind() == c.error) {
            ++tally.invalid_ok;
          } else {
            ++tally.invalid_wrong;
            if (tally.first_problem.empty()) tally.first_problem = std::string(c.what) + ": " + e.what();
          }
        }
      }
    });
  for (auto& th : pool) th.join();
  return tallies;
}

void check(const std::vector<Tally>& tallies, int iterations) {
  int valid = 0, invalid = 0;
  for (std::size_t t = 0; t < tallies.size(); ++t) {
    const Tally& y = tallies[t];
    INFO("thread " << t << ": " << y.first_problem);
    CHECK(y.valid_wrong == 0);
    CHECK(y.invalid_wrong == 0);
    CHECK(y.valid_ok + y.invalid_ok == iterations);
    valid += y.valid_ok;
    invalid += y.invalid_ok;
  }
  CHECK(valid > 0);
  CHECK(invalid > 0);
}

/// Reference outputs: each valid case run alone on a fresh workspace of `pool_threads`.
std::vector<Case> with_references(const Models& m, int pool_threads) {
  std::vector<Case> cases = make_cases();
  for (Case& c : cases) {
    if (!c.valid) continue;
    Workspace ws(pool_threads);
    Tensor out;
    std::vector<Tensor> stages;
    c.expected = call(m, c, ws, out, stages);
    REQUIRE(!c.expected.empty());
  }
  return cases;
}

}  // namespace

TEST_CASE("8 threads share one model, each with a one-thread workspace", "[concurrency]") {
  const Models models;
  const std::vector<Case> cases = with_references(models, 1);
  const int iterations = 26;  // two passes over the cases per thread
  check(hammer(models, cases, 8, 1, iterations), iterations);
}

TEST_CASE("4 threads share one model, each with a two-thread workspace pool", "[concurrency]") {
  const Models models;
  const std::vector<Case> cases = with_references(models, 2);
  const int iterations = 13;
  check(hammer(models, cases, 4, 2, iterations), iterations);
}

TEST_CASE("a reused workspace gives the same result as a fresh one", "[concurrency]") {
  // What the threaded tests rely on: the arena's leftovers from other shapes and from
  // refused inputs never reach an output.
  const Models models;
  const std::vector<Case> cases = with_references(models, 1);
  Workspace ws(1);
  Tensor out;
  std::vector<Tensor> stages;
  for (std::size_t i = cases.size(); i-- > 0;) {  // backwards: other shapes come first
    const Case& c = cases[i];
    INFO(c.what);
    if (c.valid) {
      CHECK(call(models, c, ws, out, stages) == c.expected);
    } else {
      try {
        call(models, c, ws, out, stages);
        FAIL("no error");
      } catch (const Error& e) {
        CHECK(e.kind() == c.error);
      }
    }
  }
}

TEST_CASE("a thread pool runs many small jobs from one caller", "[concurrency][pool]") {
  ThreadPool pool(3);
  std::vector<int> hits(1000, 0);
  long long total = 0;
  for (int round = 0; round < 200; ++round) {
    const std::ptrdiff_t count = 1 + round % 7;  // fewer chunks than threads at times
    pool.parallel_for(count, [&](std::ptrdiff_t begin, std::ptrdiff_t end) {
      for (std::ptrdiff_t i = begin; i < end; ++i) ++hits[static_cast<std::size_t>(round % 10 * 100 + i)];
    });
    total += count;
  }
  long long sum = 0;
  for (int h : hits) sum += h;
  CHECK(sum == total);
}
