# Which tests each stage of scripts/test.sh runs, as ctest labels (included after every
# other tests/*.cmake, so every test exists by now):
#   Release            everything
#   ASan + UBSan       -LE "no_sanitizer|python|exhaustive|examples"
#   ThreadSanitizer    test_concurrency only
# `no_sanitizer`: compile-only tests (compile_fail.cmake, consumer.cmake): building again
# with the sanitizers proves nothing more. `python`: the generators and the Python tests
# (python.cmake). `examples`: the examples (examples.cmake), not built with the
# sanitizers; the library code they run is the unit tests'. `exhaustive`: repeats of what
# a representative test runs through the same code; the sanitizer stage keeps one of each
# kind: one conformance model per family (conformance.cmake) and one evaluation of the
# 1,000 CIFAR-10 test images per precision (ResNet-20: fp32 in cli.cmake, bf16 and int8
# in lowp.cmake).
foreach(depth 32 44 56)
  if(TEST cli_eval_cifar_resnet${depth})
    set_property(TEST cli_eval_cifar_resnet${depth} APPEND PROPERTY LABELS exhaustive)
  endif()
endforeach()

# ctest -j starts the tests of highest COST first; a fresh build has no timings of its own,
# so the long ones are named here, lest one of them start last and run alone.
foreach(test gen_pil_ref gen_keras_reference gen_torchvision gen_resnext compile_all_models test_weight_errors test_kernels test_concurrency
             cli_classify_bf16_vs_pytorch cli_classify_int8_vs_pytorch
             conformance_keras_resnet50 conformance_keras_resnet50v2 conformance_torchvision_resnet50
             cli_eval_cifar_resnet20)
  if(TEST ${test})
    set_tests_properties(${test} PROPERTIES COST 100)
  endif()
endforeach()

# PyTorch's OpenMP threads spin while they wait for work, which on a 2-core machine
# running two tests at once takes the cores from the other test: measured with two busy
# processes beside it, gen_keras_reference took 139 s (88 s of CPU) spinning and 66 s
# (21 s of CPU) with passive waiting. The library's own thread pool never spins.
get_property(_every_test DIRECTORY PROPERTY TESTS)
set_property(TEST ${_every_test} APPEND PROPERTY ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
