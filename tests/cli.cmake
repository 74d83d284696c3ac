# Tests of the `resnet` command-line tool (examples/cli). Expected numbers come from the
# spec (parameter and MAC counts, sections 2 and 3) and from PyTorch (CIFAR accuracies in
# ../shared/data/README.md, probabilities computed by cli_classify.py). The CIFAR weights
# are converted by the cifar_data fixture (tests/python.cmake).
if(NOT TARGET resnet_cli)  # examples/cli/CMakeLists.txt builds no tool without CLI11 or the codecs
  return()
endif()

set(_cli $<TARGET_FILE:resnet_cli>)
set(_check sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh)
set(_cifar_test ${RESNET_SHARED_DATA}/cifar10/test)

add_test(NAME cli_help COMMAND ${_check} 0 --expect "usage: resnet <command>" --expect "cifar-resnet56"
  -- ${_cli} --help)
foreach(sub summary classify eval bench)
  add_test(NAME cli_help_${sub} COMMAND ${_check} 0 --expect "usage: resnet ${sub}" -- ${_cli} ${sub} --help)
endforeach()
add_test(NAME cli_unknown_model COMMAND ${_check} 2 --expect "unknown model 'resnet99'" --expect "resnet50"
  -- ${_cli} summary resnet99)
add_test(NAME cli_unknown_option COMMAND ${_check} 2 --expect "unknown option '--colour'"
  -- ${_cli} bench resnet18 --colour red)
add_test(NAME cli_unknown_command COMMAND ${_check} 2 --expect "unknown command 'train'"
  -- ${_cli} train resnet50)
add_test(NAME cli_bad_value COMMAND ${_check} 2 --expect "--batch: expected an integer, got 'many'"
  -- ${_cli} bench resnet18 --batch many)
add_test(NAME cli_missing_weights_file COMMAND ${_check} 1 --expect "no_such.safetensors"
  -- ${_cli} classify cifar-resnet20 --weights no_such.safetensors image.jpg)

# Every command line mistake exits with 2, whichever command and whichever check (CLI11's
# or the tool's own) finds it; help and version exit with 0.
add_test(NAME cli_no_arguments COMMAND ${_check} 2 --expect "usage: resnet <command>" -- ${_cli})
add_test(NAME cli_help_command COMMAND ${_check} 0 --expect "usage: resnet classify" -- ${_cli} help classify)
add_test(NAME cli_version COMMAND ${_check} 0 --expect "resnet 0.1.0" -- ${_cli} --version)
add_test(NAME cli_summary_missing_model COMMAND ${_check} 2 --expect "MODEL is required" -- ${_cli} summary)
add_test(NAME cli_summary_extra_argument COMMAND ${_check} 2 --expect "unexpected argument 'cat.jpg'"
  -- ${_cli} summary resnet50 cat.jpg)
add_test(NAME cli_summary_bad_pooling COMMAND ${_check} 2 --expect "--pooling: expected avg, max or none, got 'mean'"
  -- ${_cli} summary resnet50 --no-top --pooling mean)
add_test(NAME cli_summary_pooling_needs_no_top COMMAND ${_check} 2 --expect "--pooling applies only with --no-top"
  -- ${_cli} summary resnet50 --pooling max)
add_test(NAME cli_classify_missing_image COMMAND ${_check} 2 --expect "IMAGE is required"
  -- ${_cli} classify cifar-resnet20 --weights w.safetensors)
add_test(NAME cli_classify_bad_preprocess COMMAND ${_check} 2 --expect "--preprocess: unknown preprocessing mode"
  -- ${_cli} classify cifar-resnet20 --weights w.safetensors --preprocess keras cat.jpg)
add_test(NAME cli_eval_missing_weights COMMAND ${_check} 2 --expect "--weights is required"
  -- ${_cli} eval cifar-resnet20 some/dir)
add_test(NAME cli_eval_two_folders COMMAND ${_check} 2 --expect "unexpected argument 'b'"
  -- ${_cli} eval cifar-resnet20 --weights w.safetensors a b)
add_test(NAME cli_bench_missing_value COMMAND ${_check} 2 --expect "--batch" -- ${_cli} bench resnet18 --batch)
add_test(NAME cli_bench_out_of_range COMMAND ${_check} 2 --expect "--threads: 5000 is out of range [0, 1024]"
  -- ${_cli} bench resnet18 --threads 5000)
# Integers are decimal: 010 is ten, not octal eight.
add_test(NAME cli_bench_decimal_batch COMMAND ${_check} 0 --expect "batch 10,"
  -- ${_cli} bench cifar-resnet20 --batch 010 --iters 1 --warmup 0 --threads 1)

# Spec 2.1-2.3 and 3.
add_test(NAME cli_summary_resnet50 COMMAND ${_check} 0
  --expect "Total params: 25,557,032" --expect "Trainable params: 25,557,032"
  --expect "MACs: 4,089,184,256" --expect "fc (dense)"
  -- ${_cli} summary resnet50)
add_test(NAME cli_summary_keras_resnet50 COMMAND ${_check} 0
  --expect "Total params: 25,636,712" --expect "Trainable params: 25,583,592"
  --expect "Non-trainable params: 53,120" --expect "MACs: 3,857,973,248"
  -- ${_cli} summary keras-resnet50)
add_test(NAME cli_summary_keras_resnet50_notop COMMAND ${_check} 0
  --expect "Total params: 23,587,712" --expect "MACs: 3,855,925,248" --reject "predictions"
  -- ${_cli} summary keras-resnet50 --no-top --pooling max)
add_test(NAME cli_summary_resnet50v2 COMMAND ${_check} 0
  --expect "Total params: 25,613,800" --expect "Non-trainable params: 45,440" --expect "MACs: 3,482,255,360"
  -- ${_cli} summary resnet50v2)
add_test(NAME cli_summary_cifar_resnet56 COMMAND ${_check} 0
  --expect "Total params: 853,018" --expect "MACs: 125,485,696"
  -- ${_cli} summary cifar-resnet56)
add_test(NAME cli_summary_resnet18_100_classes COMMAND ${_check} 0
  --expect "Total params: 11,227,812"
  -- ${_cli} summary resnet18 --classes 100)
add_test(NAME cli_bench_cifar COMMAND ${_check} 0 --expect "latency: median" --expect "images/s"
  -- ${_cli} bench cifar-resnet20 --batch 2 --iters 2 --warmup 1 --threads 1)

# Accuracy on the 1,000 CIFAR-10 test JPEGs: PyTorch 1.13 with PIL decoding, exactly.
set(_accuracy_tests)
foreach(pair "20;80.4" "32;84.0" "44;82.1" "56;82.5")
  list(GET pair 0 depth)
  list(GET pair 1 top1)
  add_test(NAME cli_eval_cifar_resnet${depth}
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_eval_accuracy.sh ${_cli} cifar-resnet${depth}
            ${RESNET_TEST_DATA}/cifar_resnet${depth}.safetensors ${_cifar_test} ${top1})
  list(APPEND _accuracy_tests cli_eval_cifar_resnet${depth})
endforeach()
add_test(NAME cli_bad_images
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_bad_images.sh ${_cli}
          ${RESNET_TEST_DATA}/cifar_resnet20.safetensors ${_cifar_test} ${CMAKE_CURRENT_BINARY_DIR}/cli_bad_images)
set_tests_properties(${_accuracy_tests} cli_bad_images PROPERTIES
  FIXTURES_REQUIRED cifar_data SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS cli)

find_program(_cli_python3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(_cli_python3)
  add_test(NAME cli_classify_vs_pytorch
    COMMAND ${_cli_python3} ${CMAKE_CURRENT_SOURCE_DIR}/cli_classify.py ${_cli} cifar-resnet56
            ${RESNET_TEST_DATA}/cifar_resnet56.safetensors ${_cifar_test})
  set_tests_properties(cli_classify_vs_pytorch PROPERTIES
    FIXTURES_REQUIRED cifar_data SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "cli;python")
  # The 200 ImageNet photos through a seeded random ResNet-50: PyTorch + PIL + torchvision's
  # transforms (gen_pil_ref fixture) give the same top-1 and probabilities within 1e-4.
  add_test(NAME cli_classify_imagenet_vs_pytorch
    COMMAND ${_cli_python3} ${CMAKE_CURRENT_SOURCE_DIR}/cli_classify_imagenet.py ${_cli}
            ${RESNET_TEST_DATA}/pil ${RESNET_SHARED_DATA})
  set_tests_properties(cli_classify_imagenet_vs_pytorch PROPERTIES
    FIXTURES_REQUIRED pil_data SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "cli;python")
endif()
