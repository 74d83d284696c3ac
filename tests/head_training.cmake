# Fitting classifier heads (issue 12; resnet/transfer.hpp, `resnet train-head`).
#   test_head_training     unit tests (in resnet_tests): the fit against a plain reference
#                          of the loss and gradient, head files, feature sets, bad input
#   example_transfer       examples/transfer.cpp: the CIFAR ResNet-56 checkpoint's features of
#                          the 5,000 training and 1,000 test images and a head fitted on them
#                          (>= 84.5 % top-1); sets up the fixture transfer_features
#   py_head_vs_sklearn     scikit-learn fitted on those same features: within 0.5 points
#   cli_train_head         train-head, classify and eval with --head, and the bad inputs
# The checkpoint loads directly (no cifar_data fixture needed). The 6,000-image feature
# extraction runs once, in example_transfer (about 20 s on 2 cores); the sanitizer stage
# leaves it out (labels examples and python).
set(_checkpoint ${RESNET_SHARED_DATA}/cifar10/checkpoints/resnet56-4bfd9763.th)
set(_cifar ${RESNET_SHARED_DATA}/cifar10)
set(_transfer_work ${CMAKE_CURRENT_BINARY_DIR}/transfer_work)
file(MAKE_DIRECTORY ${_transfer_work})

# The examples are defined after the tests (the top-level CMakeLists.txt), so the
# conditions they are built under are checked here, as examples.cmake and cli.cmake do.
if(NOT RESNET_BUILD_EXAMPLES OR NOT TARGET resnet_vision)
  return()
endif()
add_test(NAME example_transfer
  COMMAND example_transfer ${_checkpoint} ${_cifar}/train ${_cifar}/test
  WORKING_DIRECTORY ${_transfer_work})
set_tests_properties(example_transfer PROPERTIES
  FIXTURES_SETUP transfer_features SKIP_RETURN_CODE 77 TIMEOUT 300 COST 100 LABELS examples)

# Debian's python3 with numpy and scikit-learn (python3-sklearn); the script skips (77)
# when either is missing.
find_program(RESNET_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(RESNET_PYTHON3 NAMES python3)
if(RESNET_PYTHON3)
  add_test(NAME py_head_vs_sklearn
    COMMAND ${RESNET_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_head_sklearn.py ${_transfer_work})
  set_tests_properties(py_head_vs_sklearn PROPERTIES
    FIXTURES_REQUIRED transfer_features SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS python)
endif()

if(TARGET resnet_cli)
  add_test(NAME cli_train_head
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_train_head.sh $<TARGET_FILE:resnet_cli> ${_checkpoint}
            ${_cifar}/test ${CMAKE_CURRENT_BINARY_DIR}/cli_train_head)
  set_tests_properties(cli_train_head PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  add_test(NAME cli_help_train_head COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh 0
    --expect "usage: resnet train-head MODEL --weights BACKBONE DIR --out FILE" --expect "--val-split F"
    --expect "--features-cache FILE" -- $<TARGET_FILE:resnet_cli> train-head --help)
  add_test(NAME cli_help_head_option COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_check.sh 0
    --expect "--head FILE" -- $<TARGET_FILE:resnet_cli> classify --help)
endif()
