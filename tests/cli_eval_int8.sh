#!/bin/sh
# `resnet calibrate` on IMAGES images of the CIFAR-10 training folder, then
# cli_eval_lowp.sh with --precision int8 --ranges: top-1 within 0.5 points (five images)
# of fp32's.
#   cli_eval_int8.sh RESNET MODEL CHECKPOINT TRAIN_DIR TEST_DIR FP32_TOP1 IMAGES RANGES_FILE
# Exit 77 (skipped) when the shared data is absent or this CPU or build has no int8.
set -u
resnet=$1 model=$2 weights=$3 train=$4 test=$5 fp32=$6 images=$7 ranges=$8
if [ ! -d "$train" ] || [ ! -f "$weights" ]; then
  echo "skipped: $train or $weights is absent"
  exit 77
fi
"$resnet" calibrate "$model" --weights "$weights" --images "$images" --threads 2 --out "$ranges" "$train" ||
  { echo "FAIL: calibrate failed" >&2; exit 1; }
exec sh "$(dirname "$0")/cli_eval_lowp.sh" "$resnet" "$model" "$weights" "$test" "$fp32" 5 \
  --precision int8 --ranges "$ranges"
