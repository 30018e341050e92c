# SPDX-License-Identifier: MIT
# Cross-compiling for aarch64 Linux (Grace-Hopper hosts are Arm) with
# Debian's cross toolchain (g++-aarch64-linux-gnu), the tests run under
# qemu-user: scripts/cross_aarch64.sh, docs/perf-host.md.
#
#   cmake -S . -B build-aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DSIGNVOTE_WITH_MPI=OFF -DSIGNVOTE_WITH_CUDA=OFF -DSIGNVOTE_WITH_NCCL=OFF -DSIGNVOTE_WITH_HWLOC=OFF
#
# CMAKE_CROSSCOMPILING_EMULATOR makes ctest (and catch_discover_tests at
# build time) run the aarch64 executables through qemu-aarch64, with the
# target's libc and loader from the cross toolchain's root.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SV_CROSS_TRIPLE aarch64-linux-gnu)
set(SV_CROSS_ROOT /usr/${SV_CROSS_TRIPLE} CACHE PATH "The aarch64 root: libc, loader, libstdc++")
set(CMAKE_C_COMPILER ${SV_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SV_CROSS_TRIPLE}-g++)

# Headers and libraries only from the target's root, so that nothing built
# for the host (e.g. hwloc, MPI) is picked up; programs from the host.
# Packages from both: Catch2's CMake package is header-only and the same
# for every architecture.
set(CMAKE_FIND_ROOT_PATH ${SV_CROSS_ROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

find_program(SV_QEMU_AARCH64 qemu-aarch64)
if(SV_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SV_QEMU_AARCH64} -L ${SV_CROSS_ROOT})
endif()
