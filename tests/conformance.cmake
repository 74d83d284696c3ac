# The C++ conformance tests read what the PyTorch generators (tests/python.cmake) write.
set_tests_properties(test_conformance_torchvision PROPERTIES FIXTURES_REQUIRED torch_data TIMEOUT 1800)
set_tests_properties(test_conformance_keras PROPERTIES FIXTURES_REQUIRED keras_data TIMEOUT 1800)
set_tests_properties(test_cifar_golden PROPERTIES FIXTURES_REQUIRED cifar_data)
