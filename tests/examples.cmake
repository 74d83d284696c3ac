# The examples (examples/*.cpp) are built and run as tests: each checks its own results
# and exits non-zero on a mismatch. They write their scratch files into the build tree.
if(NOT RESNET_BUILD_EXAMPLES)
  return()
endif()
if(NOT TARGET resnet_vision)  # examples/CMakeLists.txt builds no examples then
  return()
endif()

set(_work ${CMAKE_CURRENT_BINARY_DIR}/examples_work)
file(MAKE_DIRECTORY ${_work})

add_test(NAME example_classify_synthetic COMMAND example_classify WORKING_DIRECTORY ${_work})
add_test(NAME example_features COMMAND example_features WORKING_DIRECTORY ${_work})
add_test(NAME example_custom_head COMMAND example_custom_head WORKING_DIRECTORY ${_work})
set_tests_properties(example_classify_synthetic example_features example_custom_head PROPERTIES
  TIMEOUT 120 LABELS examples)

# With the real CIFAR checkpoint (converted by the cifar_data fixture) and a real image.
set(_weights ${RESNET_TEST_DATA}/cifar_resnet20.safetensors)
set(_image ${RESNET_SHARED_DATA}/cifar10/test/ship/0000.jpg)
add_test(NAME example_classify_cifar
  COMMAND sh -c "if [ -f \"$1\" ] && [ -f \"$2\" ]; then exec \"$0\" cifar-resnet20 \"$1\" \"$2\"; else echo skipped; exit 77; fi"
          $<TARGET_FILE:example_classify> ${_weights} ${_image}
  WORKING_DIRECTORY ${_work})
add_test(NAME example_custom_head_pretrained
  COMMAND sh -c "if [ -f \"$1\" ]; then exec \"$0\" \"$1\"; else echo skipped; exit 77; fi"
          $<TARGET_FILE:example_custom_head> ${_weights}
  WORKING_DIRECTORY ${_work})
set_tests_properties(example_classify_cifar example_custom_head_pretrained PROPERTIES
  FIXTURES_REQUIRED cifar_data SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS examples)
