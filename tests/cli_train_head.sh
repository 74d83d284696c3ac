#!/bin/sh
# `resnet train-head`, then `classify` and `eval` with its head, on a small two-class
# ImageFolder of real CIFAR-10 test images under names of our own ("boats", "planes"):
# the head file carries those names. Then each bad input the issue lists: every one a
# clear error, and --out left as it was.
#   cli_train_head.sh RESNET CHECKPOINT CIFAR_TEST_DIR WORK_DIR
set -u
resnet=$1 weights=$2 data=$3 work=$4
if [ ! -d "$data" ] || [ ! -f "$weights" ]; then
  echo "skipped: $data or $weights is absent"
  exit 77
fi
check() { sh "$(dirname "$0")/cli_check.sh" "$@" || exit 1; }

rm -rf "$work" && mkdir -p "$work/two/boats" "$work/two/planes" || exit 1
for i in 00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19; do
  cp "$data/ship/00$i.jpg" "$work/two/boats/" && cp "$data/airplane/00$i.jpg" "$work/two/planes/" || exit 1
done
head=$work/head.safetensors cache=$work/features.safetensors

# The three lines of the README.
check 0 --expect "iter    1  loss" --expect "wrote $head: 2 classes x 64 features" --expect "validation:" \
  -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/two" --out "$head" --val-split 0.25 --features-cache "$cache"
check 0 --expect "boats  (class 0)" --expect "planes  (class 1)" \
  -- "$resnet" classify cifar-resnet56 --weights "$weights" --head "$head" --top 2 "$data/ship/0050.jpg"
check 0 --expect "boats" --expect "planes" --expect "top-1:" --expect "40 files in 2 classes" --reject "note:" \
  -- "$resnet" eval cifar-resnet56 --weights "$weights" --head "$head" "$work/two"
# Another L2 from the cached features: the backbone does not run again.
check 0 --expect "from $cache (40 images)" --reject "images of $work/two in" \
  -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/two" --out "$head" --val-split 0.25 --features-cache "$cache" --l2 10

# A head of 2 classes in a model of 5: named as such.
check 1 --expect "the head has 2 classes but the model was built with classes = 5" \
  -- "$resnet" classify cifar-resnet56 --weights "$weights" --head "$head" --classes 5 "$data/ship/0050.jpg"

# Bad input; --out must keep its old content each time.
out=$work/out.safetensors
echo "old" > "$out"
mkdir -p "$work/empty" "$work/one/boats" "$work/hollow/boats" "$work/hollow/planes"
cp "$data/ship/0000.jpg" "$work/one/boats/" && cp "$data/ship/0000.jpg" "$work/hollow/boats/" || exit 1
check 1 --expect "no class folders" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/empty" --out "$out"
check 1 --expect "at least two class folders, found 1 (boats)" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/one" --out "$out"
check 1 --expect "class folder 'planes' holds no images" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/hollow" --out "$out"
check 2 --expect "--val-split must be in (0, 1), got 1.500" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/two" --out "$out" --val-split 1.5
check 2 --expect "excludes --val" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/two" --out "$out" --val-split 0.5 --val "$work/two"
check 2 --expect "--l2: expected a number, got 'nan'" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/two" --out "$out" --l2 nan
# Unreadable images are named, skipped and counted; a class left without one is an error.
echo "not an image" > "$work/hollow/planes/notes.txt"
size=$(wc -c < "$data/airplane/0001.jpg")
head -c $((size / 2)) "$data/airplane/0001.jpg" > "$work/hollow/planes/truncated.jpg"
check 1 --expect "skipped $work/hollow/planes/notes.txt" --expect "truncated.jpg" --expect "skipped 2 unreadable" \
  --expect "class 'planes' has no training images" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/hollow" --out "$out"
[ "$(cat "$out")" = "old" ] || { echo "FAIL: a failed train-head changed $out" >&2; exit 1; }
ls "$work" | grep -q tmp && { echo "FAIL: a temporary file was left in $work" >&2; exit 1; }
# The same unreadable files beside readable ones: skipped, and the fit succeeds.
cp "$data/airplane/0002.jpg" "$work/hollow/planes/" || exit 1
check 0 --expect "skipped 2 unreadable" --expect "wrote $out" -- "$resnet" train-head cifar-resnet56 --weights "$weights" --threads 2 "$work/hollow" --out "$out"
exit 0
