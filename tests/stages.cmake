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
# 1,000 CIFAR-10 test images (ResNet-20; cli.cmake registers them).
foreach(depth 32 44 56)
  if(TEST cli_eval_cifar_resnet${depth})
    set_property(TEST cli_eval_cifar_resnet${depth} APPEND PROPERTY LABELS exhaustive)
  endif()
endforeach()
