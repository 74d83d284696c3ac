#!/usr/bin/env bash
# The resnet library end to end: build the `resnet` tool, convert the pretrained CIFAR-10
# ResNet-56 from ../shared/data, classify a few real test images (two per class, true
# label beside the prediction) and measure the accuracy on all 1,000 test images.
# Without ../shared/data it shows a random-weight ResNet-50 instead (summary and a
# forward pass).
#
#   bash scripts/demo.sh            (BUILD_DIR=... to use another build folder)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DATA=${RESNET_DEMO_DATA:-../shared/data/cifar10}
PYTHON=/usr/bin/python3   # Debian's python3 carries PyTorch; a pyenv python3 may not
RESNET=$BUILD_DIR/resnet

step() { printf '\n== %s\n' "$*"; }

# ---- dependencies (apt, only what is missing) and the build (a no-op when up to date) ----
bash scripts/install-deps.sh
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  step "configuring $BUILD_DIR (Release)"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
step "building the resnet tool"
# The library is the target `resnet`; the program (build/resnet) is the target resnet_cli.
cmake --build "$BUILD_DIR" --target resnet_cli -j2

# ---- no shared data: a random-weight ResNet-50 ----
fallback() {
  echo "$1"
  echo "Showing a ResNet-50 with random weights instead."
  step "resnet summary resnet50"
  "$RESNET" summary resnet50
  step "resnet bench resnet50 --iters 3 (a forward pass on random input)"
  "$RESNET" bench resnet50 --iters 3
  exit 0
}

CHECKPOINT=$DATA/checkpoints/resnet56-4bfd9763.th
if [ ! -f "$CHECKPOINT" ] || [ ! -d "$DATA/test" ]; then
  fallback "../shared/data/cifar10 is absent (no CIFAR-10 checkpoint or test images)."
fi
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  fallback "$PYTHON has no PyTorch, which the checkpoint converter needs."
fi

# ---- convert the PyTorch checkpoint to safetensors ----
WEIGHTS=$BUILD_DIR/demo/cifar_resnet56.safetensors
mkdir -p "$BUILD_DIR/demo"
step "converting $CHECKPOINT"
if [ "$WEIGHTS" -nt "$CHECKPOINT" ]; then
  echo "$WEIGHTS is up to date"
else
  # A legacy pickle (not a tensor-only file): --allow-pickle, for a file we trust.
  "$PYTHON" tools/convert_torch.py --allow-pickle "$CHECKPOINT" "$WEIGHTS"
fi

step "resnet summary cifar-resnet56"
"$RESNET" summary cifar-resnet56

# ---- classify two images per class ----
step "resnet classify cifar-resnet56: two test images per class"
images=()
for class_dir in "$DATA"/test/*/; do
  mapfile -t first_two < <(find "$class_dir" -maxdepth 1 -type f | sort | head -n 2)
  images+=("${first_two[@]}")
done
# classify prints a block per image: its path, then "  PP.PP%  label  (class N)" lines.
"$RESNET" classify cifar-resnet56 --weights "$WEIGHTS" --top 3 "${images[@]}" | awk '
  function flush() {
    if (path == "") return
    n = split(path, parts, "/")
    truth = parts[n - 1]
    mark = (top == truth) ? "right" : "WRONG"
    printf "%-22s true %-11s predicted %-46s %s\n", parts[n - 1] "/" parts[n], truth, guesses, mark
    if (mark == "right") right++
    total++
  }
  /^ / {
    sub(/^ +/, ""); percent = $1; label = $2
    if (guesses == "") top = label
    guesses = guesses (guesses == "" ? "" : ", ") label " " percent
    next
  }
  { flush(); path = $0; guesses = ""; top = "" }
  END { flush(); printf "%d of %d right\n", right, total }'

# ---- accuracy on all 1,000 test images ----
step "resnet eval cifar-resnet56 on $DATA/test (1,000 JPEG images)"
"$RESNET" eval cifar-resnet56 --weights "$WEIGHTS" "$DATA/test"
echo "PyTorch measures 82.5% top-1 on these files (../shared/data/README.md): the images"
echo "decode to PIL's very bytes, so not one prediction differs."
