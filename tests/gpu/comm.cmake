# SPDX-License-Identifier: MIT
# Device communicators under mpirun (label gpu; exit 77 = skipped without a
# CUDA device): tests/gpu/mpi_gpu_comm_test.cc over the NCCL and MPI device
# transports at P = 1, 2, 3 ranks; with fewer GPUs than ranks the ranks share
# GPUs, and per_rank_env.sh gives each its own NCCL_HOSTID (see there).
if(NOT SIGNVOTE_DEVICE OR NOT SIGNVOTE_WITH_MPI)
  return()
endif()
add_executable(sv_mpi_gpu_comm_test ${CMAKE_CURRENT_LIST_DIR}/mpi_gpu_comm_test.cc)
target_link_libraries(sv_mpi_gpu_comm_test PRIVATE signvote MPI::MPI_C CUDA::cudart)
target_compile_definitions(sv_mpi_gpu_comm_test PRIVATE OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
target_compile_options(sv_mpi_gpu_comm_test PRIVATE -Wall -Wextra)
if(SIGNVOTE_DEVICE_NCCL)
  target_compile_definitions(sv_mpi_gpu_comm_test PRIVATE SV_TEST_WITH_NCCL=1)
  target_include_directories(sv_mpi_gpu_comm_test PRIVATE ${NCCL_INCLUDE_DIR})
  target_link_libraries(sv_mpi_gpu_comm_test PRIVATE ${NCCL_LIBRARY})
endif()
foreach(np 1 2 3)
  add_test(NAME gpu_comm_mpi_np${np}
           COMMAND ${SV_MPI_LAUNCHER} ${np} bash ${CMAKE_CURRENT_LIST_DIR}/per_rank_env.sh
                   $<TARGET_FILE:sv_mpi_gpu_comm_test>)
  set_tests_properties(gpu_comm_mpi_np${np} PROPERTIES LABELS "gpu;mpi" SKIP_RETURN_CODE 77 TIMEOUT 900
                                                       RUN_SERIAL TRUE)
endforeach()
