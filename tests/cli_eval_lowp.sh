#!/bin/sh
# `resnet eval` in a reduced precision on the 1,000 CIFAR-10 test images must stay within
# TOLERANCE images (tenths of a point) of a reference top-1: fp32's, which is PyTorch's
# exactly (cli_eval_accuracy.sh), where issue 13 asks 0.2 points for bf16 and 0.5 for
# int8; or PyTorch's own bf16 (tests/python/test_cifar_autocast.py).
#   cli_eval_lowp.sh RESNET MODEL CHECKPOINT DATA_DIR REFERENCE_TOP1 TOLERANCE PRECISION_OPTION...
# Exit 77 (skipped) when the shared data is absent or this CPU or build lacks the precision.
set -u
resnet=$1 model=$2 weights=$3 data=$4 reference=$5 tolerance=$6
shift 6
if [ ! -d "$data" ] || [ ! -f "$weights" ]; then
  echo "skipped: $data or $weights is absent"
  exit 77
fi
out=$("$resnet" eval "$model" --weights "$weights" --threads 2 "$@" "$data" 2>&1)
status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ] && printf '%s\n' "$out" | grep -q "unsupported_cpu"; then
  echo "skipped: not available here"
  exit 77
fi
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status" >&2; exit 1; }
top1=$(printf '%s\n' "$out" | sed -n 's/^top-1: \([0-9.]*\)%.*/\1/p')
[ -n "$top1" ] || { echo "FAIL: no top-1 line" >&2; exit 1; }
printf '%s\n' "$out" | grep -q "(\([0-9]*\)/1000)" || { echo "FAIL: not all 1000 images were evaluated" >&2; exit 1; }
# One image is 0.1 points: compared in whole images to stay clear of rounding.
awk -v got="$top1" -v want="$reference" -v tol="$tolerance" -v what="$*" 'BEGIN {
  d = int((got - want) * 10 + (got >= want ? 0.5 : -0.5))
  printf "%s: top-1 %.2f%%, reference %.2f%%, difference %d image(s), allowed %d\n", what, got, want, d, tol
  exit !(d <= tol && d >= -tol)
}'
