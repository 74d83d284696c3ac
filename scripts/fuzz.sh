#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors reader with clang (address + undefined
# sanitizers) and runs it on a scratch copy of the seed corpus.
#   scripts/fuzz.sh [build-folder]      (default build-fuzz)
#   FUZZ_SECONDS=600 scripts/fuzz.sh    (default 60)
# Exits non-zero when the fuzzer finds a crash; the reproducer lands in the build folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
cxx="${FUZZ_CXX:-clang++}"

mkdir -p "$build"
build="$(cd "$build" && pwd)"
"$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" "$root/fuzz/fuzz_safetensors.cpp" -o "$build/fuzz_safetensors"

# The fuzzer adds what it finds to its first corpus folder: keep the committed seeds clean.
work="$build/corpus-work"
rm -rf "$work"
mkdir -p "$work"
cp "$root"/fuzz/corpus/* "$work/"

cd "$build"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ASAN_OPTIONS="detect_leaks=1"
# exec: a caller that runs this in the background can stop the fuzzer by this script's id.
exec ./fuzz_safetensors "$work" -dict="$root/fuzz/safetensors.dict" \
  -max_total_time="$seconds" -max_len=4096 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/"
