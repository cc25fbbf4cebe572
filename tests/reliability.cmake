# Reliability tests (tests/reliability/, RELIABILITY.md): corruption
# sweeps, allocation- and I/O-failure injection, kill test, resource
# limits, real out-of-space runs. Sizes here are the modest CI ones; the
# full runs recorded in RELIABILITY.md use the same programs with larger
# arguments (see that file for the commands).
set(ALCM_REL_DIR ${CMAKE_CURRENT_SOURCE_DIR}/reliability)
get_target_property(ALCM_REL_DEPS alcm_static LINK_LIBRARIES)

foreach(p rel_sweep rel_allocfail rel_kill rel_limits)
  add_executable(${p} ${ALCM_REL_DIR}/${p}.c)
  target_include_directories(${p} PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${PROJECT_SOURCE_DIR}/format)
  target_compile_definitions(${p} PRIVATE _POSIX_C_SOURCE=200809L)
  target_compile_options(${p} PRIVATE ${ALCM_WARNINGS})
  target_link_libraries(${p} PRIVATE alcm_static ${ALCM_REL_DEPS})
endforeach()

# The LD_PRELOAD shim is never sanitized itself: it runs inside the tools,
# which carry the sanitizer runtime when the build has one.
add_library(alcm_iofail_shim MODULE ${ALCM_REL_DIR}/iofail_shim.c)
target_compile_definitions(alcm_iofail_shim PRIVATE _GNU_SOURCE)
target_compile_options(alcm_iofail_shim PRIVATE ${ALCM_WARNINGS}
                       -fno-sanitize=all)
target_link_options(alcm_iofail_shim PRIVATE -fno-sanitize=all)
target_link_libraries(alcm_iofail_shim PRIVATE ${CMAKE_DL_LIBS})

file(GLOB ALCM_REL_VALID CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/fixtures/valid/*.alcm)
set(ALCM_REL_EXAMPLE ${PROJECT_SOURCE_DIR}/examples/emotion.safetensors)
if(ALCM_SANITIZE)
  # ASan's shadow memory and slower code: only gross blow-ups count.
  set(ALCM_REL_LIMITS --max-ms 200 --max-mib 256)
  set(ALCM_REL_KILLS 50)
else()
  set(ALCM_REL_LIMITS)
  set(ALCM_REL_KILLS 100)
endif()

add_test(NAME reliability_truncation
         COMMAND rel_sweep truncate ${ALCM_REL_VALID})
add_test(NAME reliability_bitflip
         COMMAND rel_sweep bitflip --stride 31 --full-below 1024
                 ${ALCM_REL_VALID})
add_test(NAME reliability_allocfail
         COMMAND rel_allocfail ${PROJECT_SOURCE_DIR})
add_test(NAME reliability_iofail
         COMMAND bash ${ALCM_REL_DIR}/iofail.sh $<TARGET_FILE:alcm-pack>
                 $<TARGET_FILE:alcm-unpack>
                 $<TARGET_FILE:alcm_iofail_shim> ${PROJECT_SOURCE_DIR})
add_test(NAME reliability_kill
         COMMAND rel_kill $<TARGET_FILE:alcm-pack> ${ALCM_REL_EXAMPLE}
                 ${ALCM_REL_KILLS})
add_test(NAME reliability_limits
         COMMAND rel_limits ${PROJECT_SOURCE_DIR} --quick ${ALCM_REL_LIMITS})
add_test(NAME reliability_enospc
         COMMAND bash ${ALCM_REL_DIR}/enospc.sh $<TARGET_FILE:alcm-pack>
                 $<TARGET_FILE:alcm-unpack> $<TARGET_FILE:alcm-inspect>
                 ${PROJECT_SOURCE_DIR})
# The tools under valgrind on the fixtures (issue 6, item 9). Not in
# sanitizer builds: ASan's runtime and valgrind cannot share a process.
# The script exits 77 (skipped) when valgrind is not installed or cannot
# read the tools' debug info (valgrind 3.19 and clang 14's DWARF 5).
if(NOT ALCM_SANITIZE)
  add_test(NAME reliability_valgrind
           COMMAND bash ${ALCM_REL_DIR}/valgrind_tools.sh
                   $<TARGET_FILE:alcm-inspect> $<TARGET_FILE:alcm-unpack>
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(reliability_valgrind PROPERTIES LABELS reliability
    SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()

set_tests_properties(reliability_truncation reliability_bitflip
  reliability_allocfail reliability_iofail reliability_kill
  reliability_limits reliability_enospc PROPERTIES LABELS reliability
  TIMEOUT 900)
# The kill test measures timing; it runs alone so the other tests do not
# skew where its kills land.
set_tests_properties(reliability_kill PROPERTIES RUN_SERIAL TRUE)
