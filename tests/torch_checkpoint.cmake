# PyTorch checkpoints read natively (include/resnet/io/torch_checkpoint.hpp). The
# gen_torch_checkpoints fixture writes torch.save files with python3-torch (zip and legacy,
# nested, prefixed, every float dtype, views) next to their safetensors twins;
# test_torch_checkpoint reads them, the real CIFAR checkpoints and the fuzz seeds of
# fuzz/corpus-pth. Expected values come from PyTorch.
if(TEST gen_cifar)  # tests/python.cmake found a python3 with torch
  add_test(NAME gen_torch_checkpoints
    COMMAND ${RESNET_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/gen_torch_checkpoints.py ${RESNET_TEST_DATA})
  set_tests_properties(gen_torch_checkpoints PROPERTIES
    FIXTURES_SETUP torch_checkpoint_data TIMEOUT 600 LABELS python)
  # cifar_data: the real checkpoints' safetensors twins, converted by tools/convert_torch.py.
  set_tests_properties(test_torch_checkpoint PROPERTIES FIXTURES_REQUIRED "torch_checkpoint_data;cifar_data")
endif()

# The seeds double as test files: check they are still what the independent encoder writes
# (standard library only, so any Python 3 will do).
find_program(RESNET_PTH_PYTHON NAMES python3)
if(RESNET_PTH_PYTHON)
  add_test(NAME torch_checkpoint_corpus_matches_python_encoder
    COMMAND ${RESNET_PTH_PYTHON} ${PROJECT_SOURCE_DIR}/fuzz/make_corpus_pth.py --check)
endif()

# `resnet eval` straight from the legacy .th checkpoint: exactly PyTorch's top-1, as for the
# converted weights (tests/cli.cmake), with no Python involved. `exhaustive`: the sanitizer
# stage has its loader in test_torch_checkpoint and its evaluation in cli_eval_cifar_resnet20.
if(TEST cli_help)  # tests/cli.cmake registered the tool's tests: it is built
  add_test(NAME cli_eval_cifar_resnet20_th
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_eval_accuracy.sh $<TARGET_FILE:resnet_cli> cifar-resnet20
            ${RESNET_SHARED_DATA}/cifar10/checkpoints/resnet20-12fca82f.th ${RESNET_SHARED_DATA}/cifar10/test 80.4)
  set_tests_properties(cli_eval_cifar_resnet20_th PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS "cli;exhaustive")
endif()
