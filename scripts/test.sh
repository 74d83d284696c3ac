#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run). Installs the dependencies, then:
#   1. Release build (-march=native) and every ctest test: unit tests, conformance of every
#      model against PyTorch, the real CIFAR checkpoints, compile-fail, consumer projects,
#      the CLI and the examples;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (Clang): every test but the compile-only, the
#      Python, the example and the `exhaustive` ones, so all unit tests, the resnet command,
#      one conformance model per family and one CIFAR evaluation (tests/stages.cmake);
#   3. test_kernels built without AVX-512 (-march=x86-64-v3), so the generic GEMM path
#      (Eigen's kernels) runs too, and test_concurrency under ThreadSanitizer, while the
#      safetensors and PyTorch checkpoint parsers are fuzzed (scripts/fuzz.sh,
#      FUZZ_SECONDS, default 60, shared by the two).
# Stage 3 builds two test files as programs of their own (tests/CMakeLists.txt) and runs
# them directly.
# The PyTorch reference data (about 2 GB) is generated once per version of its generators
# into ${RESNET_TEST_DATA_CACHE:-~/.cache/resnet-testdata} (see tests/CMakeLists.txt); the
# benchmarks are not built (RESNET_BUILD_BENCHMARKS=ON builds them in the Release stage).
#
#   bash scripts/test.sh            everything
#   QUICK=1 bash scripts/test.sh    the Release suite only
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
cache=${RESNET_TEST_DATA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/resnet-testdata}

# What the build needs first; the PyTorch stack and clang (most of a fresh machine's
# install) while the Release build runs, since only the tests and the fuzzer need them.
bash scripts/install-deps.sh --build
mkdir -p build
bash scripts/install-deps.sh --rest > build/install-deps.log 2>&1 &
install_rest=$!

stage_start=$SECONDS
stages=()
section() {
  [ ${#stages[@]} -eq 0 ] || stages[-1]+=" $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
  stages+=("$*:")
  printf '\n==== %s ====\n' "$*"
}
summary() {
  section "All test stages passed"
  unset 'stages[-1]'
  printf '%s\n' "${stages[@]}" "total: $SECONDS s"
}
# Unity builds: the test files (most of them one program, tests/CMakeLists.txt) and the
# resnet command's files compile in batches that parse the headers and instantiate the
# networks once each. The Release and sanitizer builds compile the conv kernels and the
# weight-file parsers once for all their programs (RESNET_SEPARATE_COMPILATION,
# core/separate.hpp); the consumer, compile-fail and single-file builds stay header-only.
configure() {  # build folder, cmake options...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DRESNET_TEST_DATA_CACHE="$cache" -DRESNET_BUILD_BENCHMARKS=OFF -DCMAKE_UNITY_BUILD=ON "$@" > /dev/null
}

section "Release build"
configure build -DCMAKE_BUILD_TYPE=Release -DRESNET_SEPARATE_COMPILATION=ON -DRESNET_BUILD_BENCHMARKS="${RESNET_BUILD_BENCHMARKS:-OFF}"
cmake --build build -j"$jobs"

section "Test suite (Release)"
if ! wait "$install_rest"; then
  cat build/install-deps.log
  exit 1
fi
# Again, now that PyTorch is there: tests/python.cmake registers the Python tests and the
# reference-data generators only when it finds it (nothing is rebuilt).
configure build -DCMAKE_BUILD_TYPE=Release -DRESNET_SEPARATE_COMPILATION=ON -DRESNET_BUILD_BENCHMARKS="${RESNET_BUILD_BENCHMARKS:-OFF}"
(cd build && ctest --output-on-failure -j"$jobs")
# Generated data of other generator versions, untouched for 30 days, goes.
data=$(sed -n 's/^RESNET_TEST_DATA_IN_USE:INTERNAL=//p' build/CMakeCache.txt)
touch "$data"
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -path "$data" -mtime +30 -exec rm -rf {} + 2> /dev/null || true

if [ "${QUICK:-0}" = 1 ]; then
  summary
  exit 0
fi

# Clang, at -O1 with line tables only (-g1), and without UBSan's vptr check (dynamic
# types of polymorphic classes: the library's one interface, ConvInputObserver, is called
# only through the calibration recorder, so the check mostly walked Catch2's and
# iostreams' internals): the reports still name file and line. Clang 14 compiled this
# stage's programs in 541 s of CPU where GCC 12 took 834 s (the same loaded machine),
# and its UBSan also checks float-to-integer conversions (float-cast-overflow), which
# GCC's -fsanitize=undefined leaves out; the Release build, the one users get, stays
# GCC. The test programs and the resnet command are built, the examples are not (they
# run in the Release stage), and only the models this stage runs (RESNET_ALL_MODELS=OFF:
# one per family; the networks of a family share every kernel and block).
section "AddressSanitizer + UndefinedBehaviorSanitizer"
configure build-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None -DRESNET_ALL_MODELS=OFF -DRESNET_SEPARATE_COMPILATION=ON -DCMAKE_CXX_FLAGS="-O1 -g1 -DNDEBUG \
  -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake --build build-asan -j"$jobs" --target resnet_test_programs
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" \
  -LE "no_sanitizer|python|exhaustive|examples")

# The fuzzer keeps one core busy for FUZZ_SECONDS; meanwhile the other core builds two
# programs of one file each: test_kernels without AVX-512 (-march=x86-64-v3), so the
# generic GEMM path (Eigen's kernels) runs too, and test_concurrency under ThreadSanitizer.
# The builds run at a lower priority, so the fuzzer keeps its core whatever else runs.
section "Generic kernels (no AVX-512) and ThreadSanitizer, fuzzing the weight-file parsers (${FUZZ_SECONDS:-60} s) meanwhile"
mkdir -p build-fuzz
bash scripts/fuzz.sh build-fuzz > build-fuzz/fuzz.log 2>&1 &
fuzz=$!
trap 'kill "$fuzz" 2> /dev/null || true' EXIT  # should a step below fail
configure build-generic -DCMAKE_BUILD_TYPE=Release -DRESNET_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3 \
  -DRESNET_BUILD_EXAMPLES=OFF
configure build-tsan -DCMAKE_BUILD_TYPE=None -DRESNET_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS="-O1 -g1 -DNDEBUG -fsanitize=thread -fno-omit-frame-pointer"
nice -n 10 cmake --build build-generic --target test_kernels &
generic_build=$!
nice -n 10 cmake --build build-tsan --target test_concurrency
wait "$generic_build"
build-generic/tests/test_kernels
TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/test_concurrency
fuzz_status=0
wait "$fuzz" || fuzz_status=$?
printf '\n---- fuzzer (build-fuzz/fuzz.log) ----\n'
grep -E '^(INFO: Seed|Done|stat::)|ERROR|SUMMARY' build-fuzz/fuzz.log || true
if [ "$fuzz_status" -ne 0 ]; then
  cat build-fuzz/fuzz.log
  echo "fuzzing failed: the reproducer is in build-fuzz/" >&2
  exit "$fuzz_status"
fi

summary
