# Controller benchmarks (docs/benchmarks.md): convergence
# against direct creates, and memory plus idle CPU under a large cache.
# Each script starts a private control plane (tests/testenv/testenv), runs,
# prints its numbers and tears the control plane down. Label "bench": run
# them with `ctest -L bench` on a RelWithDebInfo tree; they take minutes.
if(NOT SB_BENCH)
  return()
endif()

# The fast client the convergence benchmark compares against: the
# project's own HTTP/2 client, many requests in flight, no rate limit.
add_executable(bench-create ${CMAKE_CURRENT_LIST_DIR}/bench-create.c)
target_link_libraries(bench-create PRIVATE sbcore)

find_package(Python3 3.9 COMPONENTS Interpreter)
if(NOT Python3_FOUND)
  return()
endif()

set(SB_BENCH_ENV
  SB_SOURCE_DIR=${PROJECT_SOURCE_DIR}
  SB_TESTENV=${PROJECT_SOURCE_DIR}/tests/testenv/testenv
  SB_SMI_BRIDGE=$<TARGET_FILE:smi-bridge>
  SB_BENCH_CREATE=$<TARGET_FILE:bench-create>
  SB_BENCH_DIR=${CMAKE_CURRENT_BINARY_DIR}/work)

foreach(name converge memory)
  add_test(NAME bench.controller.${name}
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_LIST_DIR}/${name}.py --runs 1)
  set_tests_properties(bench.controller.${name} PROPERTIES
    LABELS bench
    ENVIRONMENT "${SB_BENCH_ENV}"
    RUN_SERIAL TRUE
    TIMEOUT 3600)
endforeach()
