#!/bin/sh
# `resnet eval --precision bf16` on the 1,000 CIFAR-10 test images must stay within 0.2
# points of fp32's top-1 (issue 13), which is PyTorch's exactly (cli_eval_accuracy.sh).
#   cli_eval_bf16.sh RESNET MODEL CHECKPOINT DATA_DIR FP32_TOP1 LOWP_LAYERS
# Exit 77 (skipped) when the shared data is absent or this CPU or build has no bf16.
set -u
resnet=$1 model=$2 weights=$3 data=$4 fp32=$5 layers=$6
if [ ! -d "$data" ] || [ ! -f "$weights" ]; then
  echo "skipped: $data or $weights is absent"
  exit 77
fi
out=$("$resnet" eval "$model" --weights "$weights" --threads 2 --precision bf16 --lowp-layers "$layers" "$data" 2>&1)
status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ] && printf '%s\n' "$out" | grep -q "unsupported_cpu"; then
  echo "skipped: no bf16 here"
  exit 77
fi
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status" >&2; exit 1; }
top1=$(printf '%s\n' "$out" | sed -n 's/^top-1: \([0-9.]*\)%.*/\1/p')
[ -n "$top1" ] || { echo "FAIL: no top-1 line" >&2; exit 1; }
printf '%s\n' "$out" | grep -q "(\([0-9]*\)/1000)" || { echo "FAIL: not all 1000 images were evaluated" >&2; exit 1; }
# One image is 0.1 points; 0.2 is two images, compared in tenths to stay clear of rounding.
awk -v got="$top1" -v want="$fp32" 'BEGIN {
  d = int((got - want) * 10 + (got >= want ? 0.5 : -0.5))
  printf "bf16 top-1 %.2f%%, fp32 %.2f%%, difference %d image(s)\n", got, want, d
  exit !(d <= 2 && d >= -2)
}'
