# Reduced precision through the `resnet` command (issue 13): --precision and --ranges on
# classify, eval and bench, `resnet calibrate`, and bf16 and int8 accuracy on the real
# CIFAR checkpoints (read directly, so no fixture). fp32 top-1 is PyTorch's
# (../shared/data/README.md, cli_eval_cifar_resnet*).
if(NOT TARGET resnet_cli)
  return()
endif()

set(_lp_cli $<TARGET_FILE:resnet_cli>)
set(_lp_check sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh)
set(_lp_cifar ${RESNET_SHARED_DATA}/cifar10)

add_test(NAME cli_precision_unknown COMMAND ${_lp_check} 2
  --expect "--precision: unknown precision 'fp16' (expected fp32, bf16 or int8)"
  -- ${_lp_cli} bench cifar-resnet20 --precision fp16)
add_test(NAME cli_precision_int8_needs_ranges COMMAND ${_lp_check} 2
  --expect "--precision int8 needs --ranges FILE: the conv input ranges `resnet calibrate cifar-resnet20 --weights W DIR --out FILE` writes"
  -- ${_lp_cli} classify cifar-resnet20 --weights w.safetensors --precision int8 cat.jpg)
add_test(NAME cli_ranges_without_int8 COMMAND ${_lp_check} 2
  --expect "--ranges applies only with --precision int8"
  -- ${_lp_cli} eval cifar-resnet20 --weights w.safetensors --ranges r.safetensors dir)
add_test(NAME cli_calibrate_bad_percentile COMMAND ${_lp_check} 2
  --expect "--percentile: expected a number in (50, 100], got"
  -- ${_lp_cli} calibrate cifar-resnet20 --weights w.safetensors --percentile 20 --out r.safetensors dir)
add_test(NAME cli_calibrate_needs_out COMMAND ${_lp_check} 2 --expect "--out is required"
  -- ${_lp_cli} calibrate cifar-resnet20 --weights w.safetensors dir)
# A file that is not a ranges file (here a PyTorch checkpoint) is refused by name, before
# any weight is read.
add_test(NAME cli_ranges_not_a_ranges_file COMMAND ${_lp_check} 1
  --expect "${_lp_cifar}/checkpoints/resnet20-12fca82f.th:"
  -- ${_lp_cli} classify cifar-resnet20 --weights w.safetensors --precision int8
     --ranges ${_lp_cifar}/checkpoints/resnet20-12fca82f.th cat.jpg)
add_test(NAME cli_bench_int8 COMMAND ${_lp_check} 0 --expect "1 thread, int8, random weights (seed 0), int8 ranges of the input"
  -- ${_lp_cli} bench cifar-resnet20 --precision int8 --iters 1 --warmup 0 --threads 1)
set_tests_properties(cli_bench_int8 PROPERTIES SKIP_REGULAR_EXPRESSION "AVX512_VNNI|no int8 kernels" LABELS cli)
add_test(NAME cli_lowp_layers_unknown COMMAND ${_lp_check} 2
  --expect "--lowp-layers: expected measured or all, got 'some'"
  -- ${_lp_cli} eval cifar-resnet20 --weights w.safetensors --lowp-layers some dir)
add_test(NAME cli_bench_bf16 COMMAND ${_lp_check} 0 --expect "1 thread, bf16, random weights"
  -- ${_lp_cli} bench cifar-resnet20 --precision bf16 --iters 1 --warmup 0 --threads 1)
set_tests_properties(cli_bench_bf16 PROPERTIES SKIP_REGULAR_EXPRESSION "AVX512_BF16|no bf16 kernels" LABELS cli)

# bf16: the model as built (`measured` layers) within 0.2 points of fp32 (the issue's
# bound); every conv in bf16 (`all`, with bf16 maps: what PyTorch's autocast computes)
# within 0.2 points of PyTorch 1.13's own autocast bf16, which on these images lands 3
# images below fp32 on ResNet-56 (py_cifar_autocast recomputes both figures).
set(_lp_accuracy)
set(_lp_autocast)
foreach(case "20;resnet20-12fca82f;80.4;80.5" "56;resnet56-4bfd9763;82.5;82.2")
  list(GET case 0 depth)
  list(GET case 1 file)
  list(GET case 2 top1)
  list(GET case 3 autocast_top1)
  list(APPEND _lp_autocast ${depth}:${top1}:${autocast_top1})
  foreach(layers measured all)
    set(reference ${top1})
    if(layers STREQUAL "all")
      set(reference ${autocast_top1})
    endif()
    add_test(NAME cli_eval_bf16_cifar_resnet${depth}_${layers}
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_eval_lowp.sh ${_lp_cli} cifar-resnet${depth}
              ${_lp_cifar}/checkpoints/${file}.th ${_lp_cifar}/test ${reference} 2 --precision bf16 --lowp-layers ${layers})
    list(APPEND _lp_accuracy cli_eval_bf16_cifar_resnet${depth}_${layers})
  endforeach()
endforeach()
# int8: calibrated on 300 images of cifar10/train (30 per class), then the 1,000 test
# images within 0.5 points of fp32 (docs/lowp.md has the numbers).
foreach(case "20;resnet20-12fca82f;80.4" "56;resnet56-4bfd9763;82.5")
  list(GET case 0 depth)
  list(GET case 1 file)
  list(GET case 2 top1)
  add_test(NAME cli_eval_int8_cifar_resnet${depth}
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_eval_int8.sh ${_lp_cli} cifar-resnet${depth}
            ${_lp_cifar}/checkpoints/${file}.th ${_lp_cifar}/train ${_lp_cifar}/test ${top1} 300
            ${CMAKE_CURRENT_BINARY_DIR}/int8_ranges_cifar_resnet${depth}.safetensors)
  list(APPEND _lp_accuracy cli_eval_int8_cifar_resnet${depth})
endforeach()
set_tests_properties(${_lp_accuracy} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS cli)
# Under the sanitizers one evaluation in each precision reaches every conv shape
# (tests/stages.cmake).
list(REMOVE_ITEM _lp_accuracy cli_eval_bf16_cifar_resnet20_all cli_eval_int8_cifar_resnet20)
set_property(TEST ${_lp_accuracy} APPEND PROPERTY LABELS exhaustive)

# ResNet-50 (the pil_data fixture's seeded random weights) on the 200 ImageNet photos:
# bf16 against PyTorch 1.13 bf16 autocast, every conv in bf16 as autocast runs them. The
# first run computes PyTorch's bf16 probabilities (~75 s of CPU) and caches them beside
# the fixture's data; later runs take ~12 s.
find_program(_lp_python3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(_lp_python3)
  # The autocast figures the `all` evaluations above compare with (5-7 s).
  add_test(NAME py_cifar_autocast
    COMMAND ${_lp_python3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_cifar_autocast.py ${RESNET_TEST_DATA}
            ${RESNET_SHARED_DATA} ${_lp_autocast})
  set_tests_properties(py_cifar_autocast PROPERTIES
    FIXTURES_REQUIRED cifar_data SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli;python")
  add_test(NAME cli_classify_bf16_vs_pytorch
    COMMAND ${_lp_python3} ${CMAKE_CURRENT_SOURCE_DIR}/cli_classify_bf16.py ${_lp_cli}
            ${RESNET_TEST_DATA}/pil ${RESNET_SHARED_DATA} all)
  set_tests_properties(cli_classify_bf16_vs_pytorch PROPERTIES
    FIXTURES_REQUIRED pil_data SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "cli;python")
  # int8: `resnet calibrate` on 64 of the photos, then classify against PyTorch 1.13's
  # fake-quantized twin built from the same ranges file (66 s of CPU the first time, on a
  # loaded machine; PyTorch's result is cached beside the fixture's data, keyed by the
  # ranges' contents, and later runs take 15 s).
  add_test(NAME cli_classify_int8_vs_pytorch
    COMMAND ${_lp_python3} ${CMAKE_CURRENT_SOURCE_DIR}/cli_classify_int8.py ${_lp_cli}
            ${RESNET_TEST_DATA}/pil ${RESNET_SHARED_DATA})
  set_tests_properties(cli_classify_int8_vs_pytorch PROPERTIES
    FIXTURES_REQUIRED pil_data SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "cli;python")
endif()
