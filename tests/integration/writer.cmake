# The applier, the Events recorder and leader election against the real
# control plane: one C program linking sbcore (writer-live.c says what it
# proves). Included from this directory's CMakeLists.txt after the
# "controlplane" fixture is defined; it then runs as integration.writer
# with the fixture's environment (KUBECONFIG, kubectl on PATH). Without
# the fixture (SB_INTEGRATION=OFF, or a tree that does not define it) the
# program is still built and can be run by hand against any test cluster:
#   KUBECONFIG=... build/tests/integration/writer-live
add_executable(writer-live ${CMAKE_CURRENT_LIST_DIR}/writer-live.c)
target_link_libraries(writer-live PRIVATE sbcore)

if(SB_INTEGRATION AND DEFINED SB_INTEGRATION_ENV AND DEFINED SB_TESTENV_DIR)
  add_test(NAME integration.writer COMMAND writer-live)
  set_tests_properties(integration.writer PROPERTIES
    LABELS integration
    FIXTURES_REQUIRED controlplane
    ENVIRONMENT "${SB_INTEGRATION_ENV}"
    ENVIRONMENT_MODIFICATION "PATH=path_list_prepend:${SB_TESTENV_DIR}/bin"
    TIMEOUT 300)
endif()
