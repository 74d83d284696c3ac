# Python tests and reference-data generators (tests/python/). The generators are ctest
# fixtures: C++ tests that read their files declare FIXTURES_REQUIRED torch_data,
# keras_data or cifar_data. Each generator skips work whose outputs are newer than its
# scripts, so re-running the suite costs only the Python start-up.
#
# Debian's /usr/bin/python3 carries torch/torchvision/h5py; a pyenv python3 earlier on
# PATH usually does not, so /usr/bin is searched first.
find_program(RESNET_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(RESNET_PYTHON3 NAMES python3)

set(RESNET_PYTHON_OK OFF)
if(RESNET_PYTHON3)
  execute_process(
    COMMAND ${RESNET_PYTHON3} -c "import numpy, torch, torchvision, h5py"
    RESULT_VARIABLE _resnet_py_result OUTPUT_QUIET ERROR_QUIET)
  if(_resnet_py_result EQUAL 0)
    set(RESNET_PYTHON_OK ON)
  endif()
endif()

if(NOT RESNET_PYTHON_OK)
  message(STATUS "resnet: no python3 with numpy/torch/torchvision/h5py "
                 "(${RESNET_PYTHON3}); Python tests and reference data are not registered")
  return()
endif()
message(STATUS "resnet: Python reference data with ${RESNET_PYTHON3} into ${RESNET_TEST_DATA}")

set(_py ${CMAKE_CURRENT_SOURCE_DIR}/python)
set(_scratch ${CMAKE_CURRENT_BINARY_DIR}/python_scratch)

add_test(NAME gen_torchvision
  COMMAND ${RESNET_PYTHON3} ${_py}/gen_torchvision.py ${RESNET_TEST_DATA})
add_test(NAME gen_keras_reference
  COMMAND ${RESNET_PYTHON3} ${_py}/gen_keras_reference.py ${RESNET_TEST_DATA})
add_test(NAME gen_cifar
  COMMAND ${RESNET_PYTHON3} ${_py}/gen_cifar.py ${RESNET_TEST_DATA} ${RESNET_SHARED_DATA})
set_tests_properties(gen_torchvision PROPERTIES FIXTURES_SETUP torch_data)
set_tests_properties(gen_keras_reference PROPERTIES FIXTURES_SETUP keras_data)
set_tests_properties(gen_cifar PROPERTIES FIXTURES_SETUP cifar_data)
# About 1 GB of weights each for torchvision and Keras; a few minutes on 2 busy cores.
set_tests_properties(gen_torchvision gen_keras_reference PROPERTIES TIMEOUT 1800)
set_tests_properties(gen_cifar PROPERTIES TIMEOUT 900)

add_test(NAME py_safetensors_io
  COMMAND ${RESNET_PYTHON3} ${_py}/test_safetensors_io.py ${_scratch})
add_test(NAME py_convert_torch
  COMMAND ${RESNET_PYTHON3} ${_py}/test_convert_torch.py ${_scratch})
add_test(NAME py_convert_keras
  COMMAND ${RESNET_PYTHON3} ${_py}/test_convert_keras.py ${_scratch})
set_tests_properties(py_safetensors_io py_convert_torch py_convert_keras
  PROPERTIES TIMEOUT 900)

set_tests_properties(gen_torchvision gen_keras_reference gen_cifar
  py_safetensors_io py_convert_torch py_convert_keras PROPERTIES LABELS python)
