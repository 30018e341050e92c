#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest nccl_symbols (label cuda, no GPU needed): libsignvote.so works next
# to any NCCL from 2.18 on, whichever NCCL the process loaded first (PyTorch
# wheels bundle their own).
#  1. `nm -D --undefined-only` names only NCCL calls that NCCL 2.18 has
#     (newer ones are looked up at run time: src/transport/nccl.cc).
#  2. With a stand-in libnccl.so.2 that has nothing but those calls (each
#     failing; ncclGetVersion says 2.18.0) first on the library path, and
#     every symbol bound at load (LD_BIND_NOW=1), the library loads and a
#     host communicator votes correctly (the example at P = 2).
#   check_nccl_symbols.sh <libsignvote.so> <C compiler> <mpi launcher> <example binary>
set -euo pipefail
lib=${1:?libsignvote.so} cc=${2:?C compiler} launcher=${3:?mpi launcher} example=${4:?example binary}
# The public API of NCCL 2.18 (nccl.h 2.18.x), and its pncclXxx aliases.
v218="ncclGetVersion ncclGetUniqueId ncclCommInitRankConfig ncclCommInitRank ncclCommInitAll
ncclCommFinalize ncclCommDestroy ncclCommAbort ncclCommSplit ncclGetErrorString ncclGetLastError
ncclCommGetAsyncError ncclCommCount ncclCommCuDevice ncclCommUserRank ncclRedOpCreatePreMulSum
ncclRedOpDestroy ncclReduce ncclBcast ncclBroadcast ncclAllReduce ncclReduceScatter ncclAllGather
ncclSend ncclRecv ncclGroupStart ncclGroupEnd"
allowed=" $(echo $v218) $(for s in $v218; do echo -n "p$s "; done)"
bad=0 used=""
for s in $(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -E '^p?nccl' || true); do
  s=${s%@*}
  used+=" $s"
  case "$allowed " in *" $s "*) ;; *) echo "FAIL: $lib needs $s, which NCCL 2.18 lacks"; bad=1 ;; esac
done
echo "NCCL symbols linked:$used"
[ "$bad" = 0 ] || exit 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo '/* A stand-in NCCL 2.18: its calls exist and fail (ncclInternalError). */'
  echo 'int ncclGetVersion(int* v) { *v = 21800; return 0; }'
  echo 'const char* ncclGetErrorString(int r) { (void)r; return "stand-in NCCL"; }'
  echo 'const char* ncclGetLastError(void* c) { (void)c; return ""; }'
  for s in $v218; do
    case $s in ncclGetVersion|ncclGetErrorString|ncclGetLastError) ;; *) echo "int $s(void) { return 3; }" ;; esac
  done
} >"$work/nccl_218.c"
"$cc" -shared -fPIC -o "$work/libnccl.so.2" -Wl,-soname,libnccl.so.2 "$work/nccl_218.c"
# The stand-in is the NCCL the library binds to.
LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$lib" | grep -q "$work/libnccl.so.2" ||
  { echo "FAIL: the stand-in NCCL is not the one loaded"; ldd "$lib" | grep nccl; exit 1; }
LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LD_BIND_NOW=1 "$launcher" 2 "$example" 1000 >"$work/out" 2>&1 ||
  { echo "FAIL: a host communicator next to NCCL 2.18"; cat "$work/out"; exit 1; }
tail -2 "$work/out"
echo "OK: loads and votes next to NCCL 2.18 (LD_BIND_NOW=1)"
