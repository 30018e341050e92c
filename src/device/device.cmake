# SPDX-License-Identifier: MIT
# Device communicators, the stream-ordered transports and the topology,
# included by the top-level CMakeLists.txt after src/kernels/cuda/.
#
#   always           src/topology.cc (hwloc unless SIGNVOTE_WITH_HWLOC=OFF),
#                    + src/topology_mpi.cc with MPI
#   CUDA + kernels   src/device/* (engine, host exchange), the glue kernels, and
#                    with NCCL src/device/comm_nccl.cc + src/transport/nccl.cc
#   otherwise        src/device/device_none.cc, src/transport/nccl_none.cc
#                    (the entry points exist and return svInvalidUsage)
# "kernels" = src/kernels/cuda/device_kernels.cu (the GPU kernels of device_kernels.h).

# hwloc: libhwloc-dev (scripts/setup.sh). SIGNVOTE_WITH_HWLOC=OFF (the
# aarch64 cross build, scripts/cross_aarch64.sh) compiles topology.cc
# without it: HwTopology never loads and answers "unknown".
target_sources(signvote_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/topology.cc)
if(SIGNVOTE_WITH_HWLOC)
  find_path(HWLOC_INCLUDE_DIR hwloc.h)
  find_library(HWLOC_LIBRARY hwloc)
  if(NOT HWLOC_INCLUDE_DIR OR NOT HWLOC_LIBRARY)
    message(FATAL_ERROR "hwloc not found (Debian: libhwloc-dev; scripts/setup.sh installs it)")
  endif()
  target_include_directories(signvote_objects PRIVATE ${HWLOC_INCLUDE_DIR})
  target_link_libraries(signvote PRIVATE ${HWLOC_LIBRARY})
  target_link_libraries(signvote_testing PUBLIC ${HWLOC_LIBRARY})
  target_include_directories(signvote_testing PUBLIC ${HWLOC_INCLUDE_DIR})
else()
  target_compile_definitions(signvote_objects PRIVATE SV_NO_HWLOC=1)
  target_compile_definitions(signvote_testing PUBLIC SV_NO_HWLOC=1)
  message(STATUS "signvote: without hwloc (SIGNVOTE_WITH_HWLOC=OFF): no NUMA placement, topology unknown")
endif()
if(SIGNVOTE_WITH_MPI)
  target_sources(signvote_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/topology_mpi.cc)
endif()

set(SIGNVOTE_DEVICE_SOURCES
    ${PROJECT_SOURCE_DIR}/src/device/device_comm.cc
    ${PROJECT_SOURCE_DIR}/src/device/device_allreduce.cc
    ${PROJECT_SOURCE_DIR}/src/device/host_exchange.cc
    ${PROJECT_SOURCE_DIR}/src/device/watchdog.cc
    ${PROJECT_SOURCE_DIR}/src/kernels/cuda/glue.cu)

set(SIGNVOTE_DEVICE OFF)
set(SIGNVOTE_DEVICE_NCCL OFF)
if(SIGNVOTE_CUDA)
  find_package(CUDAToolkit REQUIRED)
  if(EXISTS ${PROJECT_SOURCE_DIR}/src/kernels/cuda/device_kernels.cu)
    set(SIGNVOTE_DEVICE ON)
  endif()
endif()

if(SIGNVOTE_DEVICE)
  target_sources(signvote_objects PRIVATE ${SIGNVOTE_DEVICE_SOURCES})
  target_compile_definitions(signvote_objects PRIVATE SV_WITH_DEVICE=1)
  target_compile_definitions(signvote_testing PUBLIC SV_WITH_DEVICE=1)
  target_link_libraries(signvote_objects PUBLIC CUDA::cudart)
  target_link_libraries(signvote PRIVATE CUDA::cudart)
  target_link_libraries(signvote_testing PUBLIC CUDA::cudart)
  if(SIGNVOTE_NCCL)
    set(SIGNVOTE_DEVICE_NCCL ON)
    target_sources(signvote_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/device/comm_nccl.cc
                                            ${PROJECT_SOURCE_DIR}/src/transport/nccl.cc)
    target_compile_definitions(signvote_testing PUBLIC SV_WITH_NCCL=1)
    target_include_directories(signvote_objects PRIVATE ${NCCL_INCLUDE_DIR})
    target_link_libraries(signvote PRIVATE ${NCCL_LIBRARY})
    target_link_libraries(signvote_testing PUBLIC ${NCCL_LIBRARY})
    target_include_directories(signvote_testing PUBLIC ${NCCL_INCLUDE_DIR})
    # signvote_nccl.h includes nccl.h: consumers need NCCL's include path.
    target_include_directories(signvote INTERFACE $<BUILD_INTERFACE:${NCCL_INCLUDE_DIR}>
                                                  $<INSTALL_INTERFACE:${NCCL_INCLUDE_DIR}>)
  else()
    target_sources(signvote_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/transport/nccl_none.cc)
  endif()
else()
  target_sources(signvote_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/device/device_none.cc
                                          ${PROJECT_SOURCE_DIR}/src/transport/nccl_none.cc)
  # With CUDA but before the kernels exist, the device engine is still
  # compiled (not linked), so it cannot rot.
  if(SIGNVOTE_CUDA)
    set(check_sources ${SIGNVOTE_DEVICE_SOURCES})
    if(SIGNVOTE_NCCL)
      list(APPEND check_sources ${PROJECT_SOURCE_DIR}/src/device/comm_nccl.cc ${PROJECT_SOURCE_DIR}/src/transport/nccl.cc)
    endif()
    add_library(signvote_device_compile_check OBJECT ${check_sources})
    target_include_directories(signvote_device_compile_check PRIVATE
        ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src
        ${HWLOC_INCLUDE_DIR} ${NCCL_INCLUDE_DIR})
    target_compile_definitions(signvote_device_compile_check PRIVATE SV_WITH_DEVICE=1 OMPI_SKIP_MPICXX=1)
    target_link_libraries(signvote_device_compile_check PRIVATE CUDA::cudart)
    target_compile_options(signvote_device_compile_check PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
    if(SIGNVOTE_WITH_MPI)
      target_link_libraries(signvote_device_compile_check PRIVATE MPI::MPI_C)
    endif()
  endif()
endif()
message(STATUS "signvote device communicators: ${SIGNVOTE_DEVICE} (NCCL transport: ${SIGNVOTE_DEVICE_NCCL})")

# Headers: signvote_nccl.h with the NCCL transport.
if(SIGNVOTE_DEVICE_NCCL)
  install(FILES ${PROJECT_SOURCE_DIR}/include/signvote_nccl.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
