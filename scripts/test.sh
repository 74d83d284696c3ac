#!/usr/bin/env bash
# The whole test suite: installs the dependencies, builds once (Release, -march=native),
# runs every ctest test (unit, conformance against PyTorch, real CIFAR checkpoints,
# compile-fail, CLI and examples), fuzzes the safetensors parser, then rebuilds the
# suite under AddressSanitizer + UndefinedBehaviorSanitizer and ThreadSanitizer.
#
#   bash scripts/test.sh            everything
#   QUICK=1 bash scripts/test.sh    the Release suite only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-$(nproc)}

bash scripts/install-deps.sh

section() { printf '\n==== %s ====\n' "$*"; }

section "Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$jobs"

section "Test suite (Release)"
(cd build && ctest --output-on-failure -j"$jobs")

[ "${QUICK:-0}" = 1 ] && exit 0

if [ -x scripts/fuzz.sh ]; then
  section "Fuzzing the safetensors parser (${FUZZ_SECONDS:-60} s)"
  bash scripts/fuzz.sh build-fuzz
fi

# The sanitizer builds reuse the reference data the Release run generated; compile-only
# and pure-Python tests are not run again there.
section "AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESNET_BUILD_BENCHMARKS=OFF \
  -DRESNET_TEST_DATA_DIR="$root/build/testdata" \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" > /dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" -LE "no_sanitizer|python")

section "ThreadSanitizer"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESNET_BUILD_BENCHMARKS=OFF -DRESNET_BUILD_EXAMPLES=OFF \
  -DRESNET_TEST_DATA_DIR="$root/build/testdata" -DCMAKE_CXX_FLAGS="-fsanitize=thread" > /dev/null
cmake --build build-tsan -j"$jobs" --target test_concurrency
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R test_concurrency)

section "All test stages passed"
