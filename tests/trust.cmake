# The weight-error tests also re-encode the real CIFAR ResNet-20 checkpoint when the
# gen_cifar fixture (tests/python.cmake) has written it; without it they skip that case.
# tests/CMakeLists.txt includes python.cmake before this file, so gen_cifar is registered
# by now whenever Python can generate the data.
if(TEST gen_cifar)
  set_tests_properties(test_weight_errors PROPERTIES FIXTURES_REQUIRED cifar_data)
endif()
