# The C++ conformance tests read what the PyTorch generators (tests/python.cmake) write.
# Each model is its own ctest test, a Catch2 test-name filter on resnet_tests (the files
# are in RESNET_PER_CASE_TESTS, tests/CMakeLists.txt, so the whole file is not registered
# as well): ctest spreads them over the cores, and the sanitizer stage of
# scripts/test.sh runs one model per family. Every model runs in the Release stage; the
# ones the sanitizer stage leaves out carry the label `exhaustive`, and a build with
# RESNET_ALL_MODELS=OFF (that stage's) neither compiles nor registers them. `--warn NoTests` fails
# a filter that matches no test case (a renamed case must not pass silently), and the
# `_rest` test runs whatever case no filter names.

# resnet_catch_cases(file test_prefix data_fixture  name spec label  name spec label ...)
function(resnet_catch_cases file prefix fixture)
  set(_specs)
  set(_args ${ARGN})
  while(_args)
    list(POP_FRONT _args name spec label)
    if(label STREQUAL "exhaustive" AND NOT RESNET_ALL_MODELS)
      continue()  # not compiled (RESNET_REPRESENTATIVE_MODELS_ONLY)
    endif()
    add_test(NAME ${prefix}_${name} COMMAND resnet_tests --warn NoTests ${spec})
    set_tests_properties(${prefix}_${name} PROPERTIES LABELS "conformance;${label}")
    list(APPEND _specs "~${spec}")
  endwhile()
  add_test(NAME ${prefix}_rest COMMAND resnet_tests "-#" "[#${file}]" ${_specs})
  set_tests_properties(${prefix}_rest PROPERTIES LABELS conformance)
  get_property(_tests DIRECTORY PROPERTY TESTS)
  list(FILTER _tests INCLUDE REGEX "^${prefix}_")
  set_tests_properties(${_tests} PROPERTIES FIXTURES_REQUIRED ${fixture} SKIP_RETURN_CODE 77 TIMEOUT 900)
endfunction()

# One model per family under the sanitizers: torchvision's ResNet-50 (bottleneck blocks)
# and the Keras-style pre-activation ResNet18V2 (basic blocks, every head option). Keras
# ResNet50 and ResNet50V2 took 300 s each under ASan (five heads at two sizes).
resnet_catch_cases(test_conformance_torchvision conformance_torchvision torch_data
  resnet18  "torchvision resnet18 conformance"  exhaustive
  resnet34  "torchvision resnet34 conformance"  exhaustive
  resnet50  "torchvision resnet50 conformance"  representative
  resnet101 "torchvision resnet101 conformance" exhaustive
  resnet152 "torchvision resnet152 conformance" exhaustive)
resnet_catch_cases(test_conformance_keras conformance_keras keras_data
  resnet50    "Keras ResNet50 (V1) conformance"          exhaustive
  resnet101   "Keras ResNet101 (V1) conformance"         exhaustive
  resnet152   "Keras ResNet152 (V1) conformance"         exhaustive
  resnet50v2  "Keras ResNet50V2 conformance"             exhaustive
  resnet101v2 "Keras ResNet101V2 conformance"            exhaustive
  resnet152v2 "Keras ResNet152V2 conformance"            exhaustive
  resnet18v2  "pre-activation ResNet18V2 conformance"    representative
  resnet34v2  "pre-activation ResNet34V2 conformance"    exhaustive)

set_tests_properties(test_cifar_golden PROPERTIES FIXTURES_REQUIRED cifar_data)
