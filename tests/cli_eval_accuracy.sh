#!/bin/sh
# `resnet eval` on the CIFAR-10 test images must give exactly PyTorch's top-1 accuracy
# (measured with PIL decoding, ../shared/data/README.md): the images decode to PIL's
# pixels, so not one prediction may differ.
#   cli_eval_accuracy.sh RESNET MODEL WEIGHTS DATA_DIR EXPECTED_TOP1
# Exit 77 (skipped) when the shared data or the converted weights are absent.
set -u
resnet=$1 model=$2 weights=$3 data=$4 expected=$5
if [ ! -d "$data" ]; then
  echo "skipped: $data is absent"
  exit 77
fi
if [ ! -f "$weights" ]; then
  echo "skipped: $weights is absent (made by the cifar_data fixture, which needs PyTorch)"
  exit 77
fi
out=$("$resnet" eval "$model" --weights "$weights" --threads 2 "$data" 2>&1)
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status" >&2; exit 1; }
# "top-1: 82.30% (823/1000)"
top1=$(printf '%s\n' "$out" | sed -n 's/^top-1: \([0-9.]*\)%.*/\1/p')
[ -n "$top1" ] || { echo "FAIL: no top-1 line" >&2; exit 1; }
printf '%s\n' "$out" | grep -q "(\([0-9]*\)/1000)" || { echo "FAIL: not all 1000 images were evaluated" >&2; exit 1; }
# 1,000 images: one prediction is 0.1 points, so equal to two decimals is equal.
awk -v got="$top1" -v want="$expected" 'BEGIN {
  printf "top-1 %.2f%%, PyTorch %.2f%%\n", got, want
  exit !(sprintf("%.2f", got) == sprintf("%.2f", want))
}'
