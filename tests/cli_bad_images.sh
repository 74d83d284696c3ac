#!/bin/sh
# `resnet eval` on a folder holding a truncated JPEG and a text file next to good images:
# both bad files are reported by name, skipped and counted, and the evaluation finishes.
# `resnet classify` on the same bad files names them and exits 1.
#   cli_bad_images.sh RESNET WEIGHTS DATA_DIR WORK_DIR
set -u
resnet=$1 weights=$2 data=$3 work=$4
if [ ! -d "$data" ] || [ ! -f "$weights" ]; then
  echo "skipped: $data or $weights is absent"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work/airplane" "$work/automobile" || exit 1
cp "$data/airplane/0000.jpg" "$work/airplane/good.jpg" || exit 1
cp "$data/automobile/0000.jpg" "$work/automobile/good.jpg" || exit 1
size=$(wc -c < "$data/airplane/0001.jpg")
head -c $((size / 2)) "$data/airplane/0001.jpg" > "$work/airplane/truncated.jpg"
echo "not an image" > "$work/automobile/notes.txt"

dir=$(dirname "$0")
sh "$dir/cli_check.sh" 0 \
  --expect "truncated.jpg" --expect "notes.txt" --expect "skipped: 2 unreadable files" \
  --expect "top-1:" --expect "/2)" \
  -- "$resnet" eval cifar-resnet20 --weights "$weights" --batch 3 "$work" || exit 1
sh "$dir/cli_check.sh" 1 \
  --expect "truncated.jpg" --expect "notes.txt" --expect "good.jpg" \
  -- "$resnet" classify cifar-resnet20 --weights "$weights" \
     "$work/airplane/truncated.jpg" "$work/automobile/notes.txt" "$work/airplane/good.jpg"
