# Consumer projects built as tests: the installed package (find_package, whose Config
# file finds Eigen) and the source tree (add_subdirectory, where tests and examples
# must stay off because the project is not top level). Both build with
# CMAKE_BUILD_TYPE=None (no optimisation flags, as Debian's packaging does): they test the
# packaging, and resnet's CMakeLists.txt would otherwise pick Release for the whole
# add_subdirectory consumer, a -O3 build of a model that tells nothing more.
set(_consumer_dir ${CMAKE_BINARY_DIR}/consumer)
add_test(NAME consumer_install
  COMMAND ${CMAKE_COMMAND} --install ${CMAKE_BINARY_DIR} --prefix ${_consumer_dir}/prefix)
add_test(NAME consumer_find_package
  COMMAND ${CMAKE_COMMAND} -E env CMAKE_PREFIX_PATH=${_consumer_dir}/prefix
          ${CMAKE_CTEST_COMMAND} --build-and-test ${CMAKE_CURRENT_SOURCE_DIR}/consumer ${_consumer_dir}/find
          --build-generator ${CMAKE_GENERATOR} --build-options -DRESNET_CONSUME=find_package -DCMAKE_BUILD_TYPE=None
          --test-command consumer)
add_test(NAME consumer_add_subdirectory
  COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test ${CMAKE_CURRENT_SOURCE_DIR}/consumer ${_consumer_dir}/subdir
          --build-generator ${CMAKE_GENERATOR}
          --build-options -DRESNET_CONSUME=add_subdirectory -DRESNET_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                          -DCMAKE_BUILD_TYPE=None
          --test-command consumer)
set_tests_properties(consumer_install PROPERTIES FIXTURES_SETUP consumer_prefix)
set_tests_properties(consumer_find_package PROPERTIES FIXTURES_REQUIRED consumer_prefix)
set_tests_properties(consumer_install consumer_find_package consumer_add_subdirectory PROPERTIES TIMEOUT 600
  LABELS no_sanitizer)
