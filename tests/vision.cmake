# Vision tests: reference values from torchvision and PIL (Debian's python3-torchvision,
# python3-pil) are generated at test time into RESNET_TEST_DATA by a fixture.
set(RESNET_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with torch and torchvision, for test references")

add_test(NAME gen_preprocess_ref
  COMMAND ${RESNET_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/gen_preprocess_ref.py
          ${RESNET_TEST_DATA} ${RESNET_SHARED_DATA})
set_tests_properties(gen_preprocess_ref PROPERTIES FIXTURES_SETUP preprocess_data LABELS python)

foreach(name test_preprocess test_image)
  if(TEST ${name})
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED preprocess_data)
  endif()
endforeach()

# test_image links a second translation unit that includes <resnet/vision.hpp> too: the
# stb decoder compiled into both must not clash at link time.
if(TARGET test_image)
  target_sources(test_image PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/vision_second_tu.cpp)
endif()
