#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The installed-package test (ctest -L install), registered by
# tests/install/CMakeLists.txt:
#
#   run_install_test.sh BUILD_DIR WORK_DIR VERSION LAUNCHER CC CXX MPICC MPICXX CMAKE
#
# 1. cmake --install BUILD_DIR --prefix WORK_DIR/prefix (a fresh prefix).
# 2. The installed signvote.h compiles alone (no MPI or CUDA include path,
#    and it pulls in no mpi/cuda header) as C99, C11 and C++11/17, with
#    -pedantic -Werror; signvote_mpi.h compiles with the MPI wrappers.
# 3. client/ (plain C99) is built against the installed copy only, twice:
#    a) its own CMake project: find_package(signvote) + signvote::signvote
#    b) $(pkg-config --cflags --libs signvote), PKG_CONFIG_PATH=<prefix>/...,
#       with cc (the .pc must carry MPI's flags) and with mpicc
#    and each binary runs under LAUNCHER 3 (mpirun -np 3) and must resolve
#    libsignvote from the prefix.
set -uo pipefail  # no -e: every check runs, failures are counted
if [ $# -ne 9 ]; then
  echo "usage: $0 BUILD_DIR WORK_DIR VERSION LAUNCHER CC CXX MPICC MPICXX CMAKE" >&2
  exit 2
fi
build=$1 work=$2 version=$3 launcher=$4 cc=$5 cxx=$6 mpicc=$7 mpicxx=$8 cmake=$9
here=$(cd "$(dirname "$0")" && pwd)
IFS=. read -r vmaj vmin vpat <<<"$version"
vcode=$((vmaj * 10000 + vmin * 100 + vpat))

fails=0
step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
# Runs a command, echoing it; a non-zero exit is a failure (the script goes on).
run() {
  echo "+ $*"
  "$@" || {
    fail "exit $? from: $*"
    return 1
  }
}

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" || { echo "FAIL: cmake --install failed" >&2; exit 1; }
(cd "$prefix" && find . \( -type f -o -type l \) | sort)
inc=$prefix/include
[ -f "$inc/signvote.h" ] || { echo "FAIL: no include/signvote.h installed" >&2; exit 1; }
lib=$(find "$prefix" -name 'libsignvote.so' | head -n1)
[ -n "$lib" ] || { echo "FAIL: no libsignvote.so installed" >&2; exit 1; }
libdir=$(dirname "$lib")
pc=$(find "$prefix" -name signvote.pc | head -n1)
[ -n "$pc" ] || fail "no signvote.pc installed"
[ -n "$(find "$prefix" -name signvoteConfig.cmake)" ] || fail "no signvoteConfig.cmake installed"
[ -n "$(find "$prefix" -name signvoteConfigVersion.cmake)" ] || fail "no signvoteConfigVersion.cmake installed"
if grep -n '@[A-Za-z_]*@' "$inc/signvote.h"; then fail "unconfigured @VAR@ left in the installed signvote.h"; fi
if grep -q '#define SIGNVOTE_VERSION_MAJOR' "$inc/signvote.h"; then :; else fail "signvote.h defines no SIGNVOTE_VERSION_MAJOR"; fi

step "signvote.h alone: C and C++, no MPI or CUDA include path"
cd "$work" || exit 1
cat >header_c.c <<'SRC'
#include <signvote.h>
/* Twice: the include guard and the repeated cudaStream_t typedef. */
#include <signvote.h>
int main(void) {
  int v = 0;
  svConfig_t cfg = SV_CONFIG_INITIALIZER;
  svCommStats_t st;
  cudaStream_t stream = 0;
  (void)stream;
  (void)st;
  (void)cfg;
  if (svGetVersion(&v) != svSuccess || v != SIGNVOTE_VERSION_CODE) return 1;
  return svGetErrorString(svInvalidArgument) != 0 ? 0 : 1;
}
SRC
cp header_c.c header_cxx.cc
for std in c99 c11 c17; do
  run "$cc" -std=$std -pedantic -Wall -Wextra -Werror -I"$inc" -c header_c.c -o header_$std.o
done
for std in c++11 c++17; do
  run "$cxx" -std=$std -pedantic -Wall -Wextra -Werror -I"$inc" -c header_cxx.cc -o header_$std.o
done
# signvote.h must pull in nothing but standard headers.
if "$cc" -std=c99 -E -I"$inc" header_c.c | sed -n 's/^# [0-9]* "\(.*\)".*/\1/p' | sort -u |
  grep -E '(^|/)(mpi[^/]*|cuda[^/]*|nccl[^/]*|driver_types)\.h$'; then
  fail "signvote.h includes an MPI/CUDA/NCCL header"
fi
# Linked against the installed library and run (no MPI call needed).
if run "$cc" -std=c99 header_c.c -I"$inc" -L"$libdir" -lsignvote -Wl,-rpath,"$libdir" -o header_c; then
  run ./header_c
fi
if run "$cxx" -std=c++17 header_cxx.cc -I"$inc" -L"$libdir" -lsignvote -Wl,-rpath,"$libdir" -o header_cxx; then
  run ./header_cxx
fi

step "signvote_mpi.h with the MPI compiler wrappers"
cat >mpi_h.c <<'SRC'
#include <signvote_mpi.h>
int main(void) {
  svResult_t (*init)(svComm_t*, MPI_Comm, svConfig_t*) = svCommInitMPI;
  svComm_t comm = NULL;
  (void)comm;
  return init == NULL;
}
SRC
cp mpi_h.c mpi_h.cc
run "$mpicc" -std=c99 -Wall -Wextra -Werror -I"$inc" -c mpi_h.c -o mpi_h_c.o
# Open MPI's own C++ bindings (pulled in by mpi.h in C++) do not survive
# -Werror with GCC 12: skip them for the strict compile, keep them for a
# plain one.
run "$mpicxx" -std=c++17 -Wall -Wextra -Werror -DOMPI_SKIP_MPICXX=1 -DMPICH_SKIP_MPICXX=1 -I"$inc" -c mpi_h.cc \
  -o mpi_h_cxx.o
run "$mpicxx" -std=c++17 -I"$inc" -c mpi_h.cc -o mpi_h_cxx_bindings.o

# A binary built here must load libsignvote from the prefix.
check_ldd() {
  local so
  so=$(ldd "$1" | awk '/libsignvote/ {print $3}')
  case "$so" in
    "$prefix"/*) echo "$1: libsignvote from $so" ;;
    *) fail "$1 loads libsignvote from '$so', not from $prefix" ;;
  esac
}

step "client via find_package(signvote)"
if run "$cmake" -S "$here/client" -B "$work/client-cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DSV_EXPECT_PREFIX="$prefix" \
  -DSV_EXPECT_VERSION="$version" -DSV_EXPECT_VERSION_CODE="$vcode" &&
  run "$cmake" --build "$work/client-cmake"; then
  check_ldd "$work/client-cmake/sv_install_client"
  run "$launcher" 3 "$work/client-cmake/sv_install_client"
fi

step "client via pkg-config"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
echo "PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
if pcflags=$(pkg-config --cflags --libs signvote); then
  echo "pkg-config --cflags --libs signvote: $pcflags"
  pcver=$(pkg-config --modversion signvote)
  [ "$pcver" = "$version" ] || fail "pkg-config --modversion signvote says $pcver, expected $version"
  pcinc=$(pkg-config --variable=includedir signvote)
  case "$pcinc" in
    "$prefix"/*) ;;
    *) fail "signvote.pc installed in $prefix names includedir=$pcinc (the .pc is not relocated by cmake --install --prefix)" ;;
  esac
  # shellcheck disable=SC2086  # word splitting of the flags is intended
  for tool in cc mpicc; do
    compiler=$cc
    [ $tool = mpicc ] && compiler=$mpicc
    if run "$compiler" -std=c99 -Wall -Wextra -DSV_EXPECT_VERSION_CODE="$vcode" "$here/client/client.c" $pcflags \
      -Wl,-rpath,"$libdir" -o "$work/client_pc_$tool"; then
      check_ldd "$work/client_pc_$tool"
      run "$launcher" 3 "$work/client_pc_$tool"
    fi
  done
else
  fail "pkg-config --cflags --libs signvote failed"
fi

if [ $fails -ne 0 ]; then
  printf '\ninstall test: %d failure(s)\n' "$fails" >&2
  exit 1
fi
printf '\ninstall test: all passed\n'
