# Compile-fail tests (as Eigen's failtest/): each source must fail to build, and the
# compiler output must carry the static_assert message that tells the user what to do.
# The control case must build, so a broken harness cannot pass as a failure.
function(resnet_compile_test name source expect_failure message)
  add_executable(${name} EXCLUDE_FROM_ALL ${source})
  target_link_libraries(${name} PRIVATE resnet::resnet)
  target_compile_options(${name} PRIVATE -O0)  # what is tested is the templates, not the code
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

# Every model must stay quick to compile. The resnet command instantiates all of them
# (examples/cli), so in a Release build its build is the measure: a compiler launcher
# records each of its objects' compiler CPU time and compile_budget.sh fails the test past
# the budget, about 1.5 times what GCC 12 took at -O3 -march=native with the bf16 path
# (0d0327d): 125 s as scripts/test.sh's unity build (one object), 219 s as six files,
# each parsing the headers. Otherwise one translation unit instantiating every model is
# compiled for the test (budget 90 s at -O2; measured 54 s). Neither when the tests build
# one model per family (RESNET_ALL_MODELS=OFF).
if(RESNET_ALL_MODELS AND TARGET resnet_cli AND CMAKE_BUILD_TYPE STREQUAL "Release"
   AND NOT CMAKE_CXX_FLAGS MATCHES "sanitize")
  # Before any launcher of the user's own, such as ccache. With the library's heavy
  # parts compiled once (RESNET_SEPARATE_COMPILATION), those objects count too: the
  # kernels and parsers (src/separate.cpp) and the networks, one file per family
  # (src/models_*.cpp), which then hold most of the command's compile. The family files
  # each instantiate the blocks and layers their models share, so this sum is higher than
  # the one unity object of all models was (209 s against 150 s, measured side by side on
  # a loaded machine), while every other program that uses a model stops compiling it
  # (the Release build's compiler CPU: 509 s against 583 s in the same run).
  set(_measured resnet_cli)
  if(TARGET resnet_separate)
    list(APPEND _measured resnet_separate)
  endif()
  set_property(TARGET ${_measured} PROPERTY CXX_COMPILER_LAUNCHER
    sh ${CMAKE_CURRENT_SOURCE_DIR}/compile_budget.sh --record ${CMAKE_CXX_COMPILER_LAUNCHER})
  set(_measured_objects)
  foreach(target ${_measured})
    list(APPEND _measured_objects "$<TARGET_OBJECTS:${target}>")
  endforeach()
  if(CMAKE_UNITY_BUILD AND TARGET resnet_separate)
    set(_budget 280)
  elseif(CMAKE_UNITY_BUILD)
    set(_budget 190)
  else()
    set(_budget 330)
  endif()
  add_test(NAME compile_all_models
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/compile_budget.sh --check ${_budget} ${_measured_objects}
    COMMAND_EXPAND_LISTS)
elseif(RESNET_ALL_MODELS)
  add_test(NAME compile_all_models
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/compile_budget.sh 90
            ${CMAKE_CXX_COMPILER} -std=c++17 -O2 $<$<BOOL:${RESNET_NATIVE}>:-march=native>
            -I${PROJECT_SOURCE_DIR}/include
            "-I$<JOIN:$<TARGET_PROPERTY:Eigen3::Eigen,INTERFACE_INCLUDE_DIRECTORIES>,;-I>"
            -c ${_cf}/all_models.cpp -o ${CMAKE_CURRENT_BINARY_DIR}/all_models.o
    COMMAND_EXPAND_LISTS)
  set_tests_properties(compile_all_models PROPERTIES TIMEOUT 300)
endif()
if(TEST compile_all_models)
  set_tests_properties(compile_all_models PROPERTIES LABELS no_sanitizer)
endif()

# Compiling again under the sanitizers proves nothing more.
set_tests_properties(compile_fail_sequential compile_fail_residual compile_fail_batch_norm compile_ok_control
  PROPERTIES LABELS no_sanitizer)
