# Fuzz harnesses (tests/fuzz/fuzz_*.c), two ways:
#
# 1. Always: each harness linked with tests/fuzz/replay_main.c and the
#    normal compiler, replaying its committed corpus under ctest:
#      fuzz_replay_<harness>             library as shipped (checksums on)
#      fuzz_replay_<harness>_nochecksum  library built with
#        FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (checksums skipped), the
#        mode the fuzzers run in, so that every input a fuzzer found
#        replays exactly as it ran there.
# 2. With clang and -DALCM_FUZZ=ON: libFuzzer programs fuzz_<harness>,
#    built with -fsanitize=fuzzer,address,undefined against a library
#    compiled in fuzzing mode. Run one with, e.g.,
#      build-fuzz/tests/fuzz_open -jobs=1 -max_total_time=600 \
#        NEWDIR tests/fuzz/corpus/open
#    (write new inputs to a scratch NEWDIR, keep the committed corpus
#    read-only; see RELIABILITY.md).
option(ALCM_FUZZ "Build libFuzzer harnesses (needs clang)" OFF)

set(ALCM_FUZZ_HARNESSES open chunk safetensors npy npz pytorch roundtrip)
set(ALCM_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
list(TRANSFORM ALCM_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/"
     OUTPUT_VARIABLE ALCM_FUZZ_LIB_SOURCES)
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/hash_avx2.c
                            PROPERTIES COMPILE_OPTIONS "${ALCM_HASH_AVX2_FLAGS}")
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/codec_rans.c
                            PROPERTIES COMPILE_OPTIONS "${ALCM_RANS_DEBUG_OPT}")
# Whatever the library links and defines, the copies here do too.
get_target_property(ALCM_FUZZ_DEPS alcm_static LINK_LIBRARIES)
get_target_property(ALCM_FUZZ_DEFS alcm_obj COMPILE_DEFINITIONS)

# A static library from the same sources; extra compile flags in ARGN.
function(alcm_fuzz_library name)
  add_library(${name} STATIC EXCLUDE_FROM_ALL ${ALCM_FUZZ_LIB_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/format ${PROJECT_SOURCE_DIR}/src
    ${ALCM_GENERATED_DIR})
  target_compile_definitions(${name} PRIVATE ${ALCM_FUZZ_DEFS}
    FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  target_compile_options(${name} PRIVATE ${ALCM_WARNINGS} -fvisibility=hidden
                         ${ARGN})
  target_link_libraries(${name} PRIVATE ${ALCM_FUZZ_DEPS})
endfunction()

# A harness program: harness name, program name, library, extra flags.
function(alcm_fuzz_program h prog lib)
  add_executable(${prog} ${ARGN})
  target_include_directories(${prog} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${PROJECT_SOURCE_DIR}/format ${ALCM_FUZZ_DIR})
  target_compile_definitions(${prog} PRIVATE _POSIX_C_SOURCE=200809L)
  target_compile_options(${prog} PRIVATE ${ALCM_WARNINGS})
  target_link_libraries(${prog} PRIVATE ${lib} ${ALCM_FUZZ_DEPS})
endfunction()

alcm_fuzz_library(alcm_fuzzmode)
foreach(h ${ALCM_FUZZ_HARNESSES})
  alcm_fuzz_program(${h} replay_${h} alcm_static
    ${ALCM_FUZZ_DIR}/fuzz_${h}.c ${ALCM_FUZZ_DIR}/replay_main.c)
  alcm_fuzz_program(${h} replay_${h}_nochecksum alcm_fuzzmode
    ${ALCM_FUZZ_DIR}/fuzz_${h}.c ${ALCM_FUZZ_DIR}/replay_main.c)
  add_test(NAME fuzz_replay_${h}
           COMMAND replay_${h} ${ALCM_FUZZ_DIR}/corpus/${h})
  add_test(NAME fuzz_replay_${h}_nochecksum
           COMMAND replay_${h}_nochecksum ${ALCM_FUZZ_DIR}/corpus/${h})
  set_tests_properties(fuzz_replay_${h} fuzz_replay_${h}_nochecksum
                       PROPERTIES LABELS fuzz TIMEOUT 600)
endforeach()

if(ALCM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ALCM_FUZZ=ON needs clang (CC=clang), not "
            "${CMAKE_C_COMPILER_ID}")
  endif()
  set(ALCM_FUZZ_SAN -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  alcm_fuzz_library(alcm_libfuzzer -fsanitize=fuzzer-no-link ${ALCM_FUZZ_SAN})
  foreach(h ${ALCM_FUZZ_HARNESSES})
    alcm_fuzz_program(${h} fuzz_${h} alcm_libfuzzer ${ALCM_FUZZ_DIR}/fuzz_${h}.c)
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${ALCM_FUZZ_SAN})
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer ${ALCM_FUZZ_SAN})
  endforeach()
endif()
