# kaitai_fixtures: an independent reading of the format. Every
# fixtures/valid/*.alcm is parsed by a parser that the Kaitai Struct
# compiler generates from format/alcm.ksy at test time, and compared field
# by field with `alcm-inspect --json` (tests/kaitai/compare.js).
# Needs node and npm (the pinned packages in tests/kaitai/package-lock.json
# are installed into the build tree unless tests/kaitai/node_modules
# exists). Without node the test is reported as skipped.
find_program(ALCM_SH sh)
if(ALCM_SH)
  add_test(NAME kaitai_fixtures
    COMMAND ${ALCM_SH} ${CMAKE_CURRENT_SOURCE_DIR}/kaitai/run.sh
            ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/kaitai
            $<TARGET_FILE:alcm-inspect>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(kaitai_fixtures PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT 900
    LABELS kaitai)
endif()
