# The fuzz seeds double as test files (test_fuzz_corpus, and the writer test compares
# against valid_python_writer.safetensors): check they are still exactly what the
# independent Python encoder writes. Standard library only, so any Python 3 will do.
find_program(RESNET_ST_PYTHON NAMES python3)
if(RESNET_ST_PYTHON)
  add_test(NAME safetensors_corpus_matches_python_encoder
    COMMAND ${RESNET_ST_PYTHON} ${PROJECT_SOURCE_DIR}/fuzz/make_corpus.py --check)
endif()
