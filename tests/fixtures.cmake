# Golden fixtures: the generator, a target that rewrites fixtures/ in the
# source tree, and a test that the committed files are what the generator
# makes today.
#
# This file is also a CMake script: run with -P (see fixtures_up_to_date
# below) it regenerates into a scratch folder and compares every file.

if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.18) # script mode: policies for IN_LIST
  # -DGEN=<generator> -DSRC=<source fixtures dir> -DOUT=<scratch dir>
  file(REMOVE_RECURSE ${OUT})
  execute_process(COMMAND ${GEN} ${OUT} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "alcm-gen-fixtures failed (${rc})")
  endif()
  set(bad "")
  foreach(sub valid invalid)
    file(GLOB fresh RELATIVE ${OUT}/${sub} ${OUT}/${sub}/*)
    file(GLOB committed RELATIVE ${SRC}/${sub} ${SRC}/${sub}/*)
    list(SORT fresh)
    list(SORT committed)
    foreach(f ${committed})
      if(NOT f IN_LIST fresh)
        list(APPEND bad "${sub}/${f}: committed but no longer generated")
      endif()
    endforeach()
    foreach(f ${fresh})
      if(NOT f IN_LIST committed)
        list(APPEND bad "${sub}/${f}: generated but not committed")
        continue()
      endif()
      execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
                      ${OUT}/${sub}/${f} ${SRC}/${sub}/${f} RESULT_VARIABLE d)
      if(NOT d EQUAL 0)
        list(APPEND bad "${sub}/${f}: differs")
      endif()
    endforeach()
  endforeach()
  if(bad)
    string(REPLACE ";" "\n  " bad "${bad}")
    message(FATAL_ERROR "fixtures/ is out of date (run `cmake --build <dir> "
            "--target fixtures` and commit):\n  ${bad}")
  endif()
  return()
endif()

add_executable(alcm-gen-fixtures ${PROJECT_SOURCE_DIR}/fixtures/gen_fixtures.c)
target_include_directories(alcm-gen-fixtures PRIVATE
  ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/format ${ALCM_GENERATED_DIR})
target_compile_definitions(alcm-gen-fixtures PRIVATE _POSIX_C_SOURCE=200809L)
target_compile_options(alcm-gen-fixtures PRIVATE ${ALCM_WARNINGS})
target_link_libraries(alcm-gen-fixtures PRIVATE alcm_static PkgConfig::ZSTD
  PkgConfig::XXHASH PkgConfig::ZLIB PkgConfig::JANSSON Threads::Threads)

add_custom_target(fixtures
  COMMAND alcm-gen-fixtures ${PROJECT_SOURCE_DIR}/fixtures
  DEPENDS alcm-gen-fixtures
  COMMENT "Regenerating ${PROJECT_SOURCE_DIR}/fixtures/{valid,invalid}"
  VERBATIM)

add_test(NAME fixtures_up_to_date
  COMMAND ${CMAKE_COMMAND} -DGEN=$<TARGET_FILE:alcm-gen-fixtures>
          -DSRC=${PROJECT_SOURCE_DIR}/fixtures
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/fixtures-check
          -P ${CMAKE_CURRENT_LIST_FILE})
