# Importer tests (issue 4): inputs written by the real numpy / torch
# (tests/importers/make_inputs.py), packed, unpacked and compared; and a
# hostile corpus (make_hostile.py) that alcm-pack must reject. Needs
# /usr/bin/python3 with numpy and torch (Debian python3-numpy, python3-torch).
foreach(t roundtrip hostile)
  add_test(NAME importers_${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/importers/${t}.sh
      $<TARGET_FILE:alcm-pack> $<TARGET_FILE:alcm-unpack> ${PROJECT_SOURCE_DIR})
  set_tests_properties(importers_${t} PROPERTIES LABELS importers TIMEOUT 600)
endforeach()
