# Vision tests: reference values from torchvision and PIL (Debian's python3-torchvision,
# python3-pil) are generated at test time into RESNET_TEST_DATA by fixtures.
set(RESNET_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with torch and torchvision, for test references")

add_test(NAME gen_preprocess_ref
  COMMAND ${RESNET_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/gen_preprocess_ref.py
          ${RESNET_TEST_DATA} ${RESNET_SHARED_DATA})
set_tests_properties(gen_preprocess_ref PROPERTIES FIXTURES_SETUP preprocess_data LABELS python)
# PIL's decode of every shared and generated image, PIL resizes, and a PyTorch ResNet-50's
# probabilities on the ImageNet photos (about 2 minutes on 2 cores).
add_test(NAME gen_pil_ref
  COMMAND ${RESNET_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/gen_pil_ref.py
          ${RESNET_TEST_DATA} ${RESNET_SHARED_DATA})
set_tests_properties(gen_pil_ref PROPERTIES FIXTURES_SETUP pil_data LABELS python TIMEOUT 900)

foreach(name test_preprocess test_image)
  if(TEST ${name})
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED preprocess_data)
  endif()
endforeach()
if(TEST test_pil_exact)
  # 6,200 files and 200 ResNet-50 passes: a Release-stage test. The decoders' error paths
  # and a sample of PIL-written files run under the sanitizers in test_image.
  set_tests_properties(test_pil_exact PROPERTIES FIXTURES_REQUIRED pil_data TIMEOUT 600 COST 100)
  set_property(TEST test_pil_exact APPEND PROPERTY LABELS exhaustive)
endif()

# The programs that decode images link the codecs through resnet::vision: test_image and
# test_pil_exact, whether programs of their own or part of resnet_tests.
foreach(name resnet_tests test_image test_pil_exact)
  if(TARGET ${name} AND TARGET resnet_vision)
    target_link_libraries(${name} PRIVATE resnet::vision)
  endif()
endforeach()

# test_image links a second translation unit that includes <resnet/vision.hpp> too: the
# header's definitions must all be inline, or the program does not link. Kept out of
# unity batches, which would make it the same unit.
set(_vision_program test_image)
if(NOT TARGET test_image AND TARGET resnet_tests)
  set(_vision_program resnet_tests)
endif()
if(TARGET ${_vision_program} AND TARGET resnet_vision)
  target_sources(${_vision_program} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/vision_second_tu.cpp)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/vision_second_tu.cpp PROPERTIES
    SKIP_UNITY_BUILD_INCLUSION ON)
endif()
