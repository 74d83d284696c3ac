#!/usr/bin/env bash
# Builds the libFuzzer targets for the weight-file readers with clang (address + undefined
# sanitizers) and runs them on scratch copies of their seed corpora.
#   scripts/fuzz.sh [build-folder]                          (default build-fuzz)
#   FUZZ_SECONDS=600 scripts/fuzz.sh                        (default 60, shared by the targets)
#   FUZZ_TARGET=torch_checkpoint scripts/fuzz.sh            (safetensors, torch_checkpoint or all)
# With FUZZ_TARGET=all (the default) each target runs for half of FUZZ_SECONDS, one after
# the other, so the whole run takes as long as one target did.
# Exits non-zero when a fuzzer finds a crash; the reproducer lands in the build folder,
# named after its target.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
cxx="${FUZZ_CXX:-clang++}"
target="${FUZZ_TARGET:-all}"

case "$target" in
  all) targets=(safetensors torch_checkpoint) ;;
  safetensors | torch_checkpoint) targets=("$target") ;;
  *) echo "fuzz.sh: FUZZ_TARGET must be safetensors, torch_checkpoint or all, not '$target'" >&2; exit 2 ;;
esac
share=$((seconds / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1

corpus_of() { [ "$1" = safetensors ] && echo corpus || echo corpus-pth; }
dict_of() { [ "$1" = safetensors ] && echo safetensors.dict || echo torch_checkpoint.dict; }

mkdir -p "$build"
build="$(cd "$build" && pwd)"
for t in "${targets[@]}"; do
  "$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" "$root/fuzz/fuzz_$t.cpp" -o "$build/fuzz_$t"
  # The fuzzer adds what it finds to its first corpus folder: keep the committed seeds clean.
  rm -rf "$build/corpus-work-$t"
  mkdir -p "$build/corpus-work-$t"
  cp "$root/fuzz/$(corpus_of "$t")"/* "$build/corpus-work-$t/"
done

cd "$build"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ASAN_OPTIONS="detect_leaks=1"
command_of() {
  cmd=("./fuzz_$1" "corpus-work-$1" -dict="$root/fuzz/$(dict_of "$1")"
       -max_total_time="$share" -max_len=4096
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/$1-")
}
last="${targets[${#targets[@]} - 1]}"
for t in "${targets[@]}"; do
  command_of "$t"
  # exec: a caller that runs this in the background can stop the fuzzer by this script's id.
  [ "$t" = "$last" ] && exec "${cmd[@]}"
  # An earlier target runs as a child; stopping this script stops it too.
  "${cmd[@]}" &
  child=$!
  trap 'kill "$child" 2> /dev/null || true; exit 143' TERM INT
  wait "$child"
  trap - TERM INT
done
