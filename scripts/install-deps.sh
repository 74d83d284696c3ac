#!/usr/bin/env bash
# Installs everything the build, the tests, the demo and the benchmarks need, from
# Debian 12's packages. Idempotent: packages already present are not touched.
#   install-deps.sh           everything
#   install-deps.sh --build   what configuring and building the C++ programs needs
#   install-deps.sh --rest    the rest: the PyTorch reference stack, clang for the fuzzer
# scripts/test.sh installs --build, then --rest while the Release build runs.
set -euo pipefail

build_packages=(
  build-essential cmake git python3
  libeigen3-dev                      # the only dependency of the library itself
  catch2 libbenchmark-dev            # tests, benchmarks
  libjpeg62-turbo-dev libpng-dev     # image decoding (resnet::vision, the resnet command): PIL's codecs
  libcli11-dev                       # the resnet command's argument parsing
)
rest_packages=(
  clang libclang-rt-14-dev           # the libFuzzer target
  python3-numpy python3-torch python3-torchvision python3-h5py python3-pil  # reference data
  python3-sklearn                    # the fitted-head comparison (tests/python/test_head_sklearn.py)
)
case ${1:-} in
  --build) packages=("${build_packages[@]}") ;;
  --rest) packages=("${rest_packages[@]}") ;;
  "") packages=("${build_packages[@]}" "${rest_packages[@]}") ;;
  *) echo "usage: install-deps.sh [--build | --rest]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
