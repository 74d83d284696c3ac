#!/usr/bin/env bash
# Installs everything the build, the tests, the demo and the benchmarks need, from
# Debian 12's packages. Idempotent: packages already present are not touched.
set -euo pipefail

packages=(
  build-essential cmake git
  libeigen3-dev                      # the only dependency of the library itself
  catch2 libbenchmark-dev            # tests, benchmarks
  libjpeg62-turbo-dev libpng-dev     # image decoding (resnet::vision, the resnet command): PIL's codecs
  libcli11-dev                       # the resnet command's argument parsing
  clang libclang-rt-14-dev           # the libFuzzer target
  python3 python3-numpy python3-torch python3-torchvision python3-h5py python3-pil  # reference data
  python3-sklearn                    # the fitted-head comparison (tests/python/test_head_sklearn.py)
)

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
