# Helpers that register MPI tests with CTest, once per rank count.

# Running as root inside containers and CI needs Open MPI's explicit consent.
# PMIX_MCA_gds=hash: Debian 12's Open MPI 4.1 + PMIx 4.2 otherwise hangs in
# MPI_Comm_spawn now and then (see the README, Pools within pools).
set(MPIPOOL_TEST_ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;PMIX_MCA_gds=hash")

# mpipool_add_mpi_test(<name> <target> RANKS 2 3 4 [TIMEOUT s] [LABELS ...] [ENV VAR=value ...] [ARGS ...])
# Adds <name>.np<N> running `mpiexec -n N --oversubscribe [-x VAR] <target> ARGS` for each N.
# ENV variables are set for mpiexec and exported to every rank (and spawned process) with -x.
function(mpipool_add_mpi_test name target)
  cmake_parse_arguments(ARG "" "TIMEOUT" "RANKS;LABELS;ENV;ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set(exports)
  foreach(assignment IN LISTS ARG_ENV)
    string(REGEX REPLACE "=.*" "" variable "${assignment}")
    list(APPEND exports -x ${variable})
  endforeach()
  foreach(ranks IN LISTS ARG_RANKS)
    set(test_name ${name}.np${ranks})
    add_test(NAME ${test_name}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ranks} --oversubscribe ${exports} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${test_name} PROPERTIES
      TIMEOUT ${ARG_TIMEOUT}
      PROCESSORS ${ranks}
      LABELS "mpi;${ARG_LABELS}"
      ENVIRONMENT "${MPIPOOL_TEST_ENVIRONMENT};${ARG_ENV}")
  endforeach()
endfunction()

# mpipool_add_script_test(<name> <script> [TIMEOUT s] [PROCESSORS n] [LABELS ...] [ARGS ...])
# A test driven by a shell script that runs jobs and checks their output and processes.
function(mpipool_add_script_test name script)
  cmake_parse_arguments(ARG "" "TIMEOUT;PROCESSORS" "LABELS;ARGS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_PROCESSORS)
    set(ARG_PROCESSORS 2)
  endif()
  add_test(NAME ${name} COMMAND bash ${script} ${ARG_ARGS})
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${ARG_TIMEOUT}
    PROCESSORS ${ARG_PROCESSORS}
    LABELS "${ARG_LABELS}"
    SKIP_RETURN_CODE 77
    ENVIRONMENT "${MPIPOOL_TEST_ENVIRONMENT};MPIEXEC=${MPIEXEC_EXECUTABLE};BUILD_DIR=${PROJECT_BINARY_DIR};SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
