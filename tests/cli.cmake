# CLI tests: shell scripts in tests/cli/ that run the real tools on the
# bundled example, generated checkpoints and hostile inputs. Each prints
# "N passed, M failed" and fails the test on any failure.
# Needs bash, coreutils and /usr/bin/python3 with numpy (Debian python3-numpy).
set(ALCM_CLI_TESTS roundtrip determinism bitflip truncate force hostile usage
    adaptive)
foreach(t ${ALCM_CLI_TESTS})
  add_test(NAME cli_${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/${t}.sh
      $<TARGET_FILE:alcm-pack> $<TARGET_FILE:alcm-unpack>
      $<TARGET_FILE:alcm-inspect> ${PROJECT_SOURCE_DIR})
  set_tests_properties(cli_${t} PROPERTIES LABELS cli TIMEOUT 600)
endforeach()
