# Compile-fail tests (as Eigen's failtest/): each source must fail to build, and the
# compiler output must carry the static_assert message that tells the user what to do.
# The control case must build, so a broken harness cannot pass as a failure.
function(resnet_compile_test name source expect_failure message)
  add_executable(${name} EXCLUDE_FROM_ALL ${source})
  target_link_libraries(${name} PRIVATE resnet::resnet)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target ${name} --config $<CONFIG>)
  if(expect_failure)
    set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${message}")
  endif()
endfunction()

set(_cf ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail)
resnet_compile_test(compile_fail_sequential ${_cf}/sequential_channels.cpp TRUE
  "Sequential: a layer's out_channels differ from the in_channels of the layer after it")
resnet_compile_test(compile_fail_residual ${_cf}/residual_channels.cpp TRUE
  "Residual: the main path and the shortcut give different channel counts")
resnet_compile_test(compile_fail_batch_norm ${_cf}/batch_norm_channels.cpp TRUE
  "ConvUnit: the BatchNorm's channel count differs from the conv's out_channels")
resnet_compile_test(compile_ok_control ${_cf}/compiles_ok.cpp FALSE "")

# One translation unit instantiating every model must compile quickly (issue 2: well
# under a minute at -O2); the timing itself is reported by scripts/compile_time.sh.
add_executable(all_models_tu EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/all_models.cpp)
target_link_libraries(all_models_tu PRIVATE resnet::resnet)
add_test(NAME compile_all_models
         COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target all_models_tu --config $<CONFIG>)
set_tests_properties(compile_all_models PROPERTIES TIMEOUT 300)

# Compiling again under the sanitizers proves nothing more.
set_tests_properties(compile_fail_sequential compile_fail_residual compile_fail_batch_norm compile_ok_control
  compile_all_models PROPERTIES LABELS no_sanitizer)
