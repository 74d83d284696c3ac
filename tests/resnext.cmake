# torchvision's ResNeXt and Wide ResNet (issue 14). gen_resnext.py writes the reference
# data (fixture resnext_data); each model is its own ctest test, a Catch2 filter on
# resnet_tests as in conformance.cmake (resnet_catch_cases, defined there: this file is
# included after it). ResNeXt-50 is the one the sanitizer stage runs (it reaches every
# grouped-kernel shape: 4- to 32-channel groups, stride 1 and 2); the rest are
# `exhaustive`, and `conformance_resnext_rest` runs the no-top case.
if(RESNET_PYTHON_OK)
  add_test(NAME gen_resnext COMMAND ${RESNET_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/gen_resnext.py ${RESNET_TEST_DATA})
  # ~1.6 GB of weights for the five models.
  set_tests_properties(gen_resnext PROPERTIES FIXTURES_SETUP resnext_data LABELS python TIMEOUT 1800)
endif()

resnet_catch_cases(test_conformance_resnext conformance_resnext resnext_data
  resnext50_32x4d  "torchvision resnext50_32x4d conformance"  representative
  resnext101_32x8d "torchvision resnext101_32x8d conformance" exhaustive
  resnext101_64x4d "torchvision resnext101_64x4d conformance" exhaustive
  wide_resnet50_2  "torchvision wide_resnet50_2 conformance"  exhaustive
  wide_resnet101_2 "torchvision wide_resnet101_2 conformance" exhaustive)
# Grouped Conv2d refuses channel counts its groups do not divide (compile_fail.cmake's harness).
resnet_compile_test(compile_fail_conv_groups ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/conv_groups.cpp TRUE
  "Conv2d: InC and OutC must both be divisible by Groups")
set_tests_properties(compile_fail_conv_groups PROPERTIES LABELS no_sanitizer)

# The CLI knows the models by torchvision's names; the counts are torchvision's num_params
# and published GFLOPS (cli.cmake's guards: the tool is built only with CLI11 and vision).
if(TEST cli_help)
  add_test(NAME cli_summary_resnext50 COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh 0
    --expect "Total params: 25,028,904" --expect "4.23 GMACs"
    -- $<TARGET_FILE:resnet_cli> summary resnext50_32x4d)
  add_test(NAME cli_summary_wide_resnet101_2 COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh 0
    --expect "Total params: 126,886,696" --expect "22.75 GMACs"
    -- $<TARGET_FILE:resnet_cli> summary wide_resnet101_2)
  if(NOT RESNET_ALL_MODELS)  # a command without Wide ResNet-101-2
    set_tests_properties(cli_summary_wide_resnet101_2 PROPERTIES DISABLED TRUE)
  endif()
endif()
