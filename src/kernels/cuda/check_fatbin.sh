#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest cuda_fatbin_archs (label cuda): the built library carries an ELF
# (SASS) image for every configured architecture, and each image holds the
# pack, vote, unpack and fused vote+unpack kernels.
#   check_fatbin.sh CUOBJDUMP LIBRARY ARCH...     e.g. ... libsignvote.so 80 90
# Exit 77 (skipped) when cuobjdump is missing: scripts/setup.sh installs it.
set -uo pipefail
tool=$1 lib=$2
shift 2
if [ ! -x "$tool" ]; then
  echo "SKIPPED: cuobjdump not found ($tool); scripts/setup.sh installs it next to a CUDA toolkit"
  exit 77
fi
if [ $# -eq 0 ]; then
  echo "SKIPPED: no numbered architecture in CMAKE_CUDA_ARCHITECTURES to look for"
  exit 77
fi
list=$("$tool" --list-elf "$lib") || { echo "FAIL: cuobjdump --list-elf $lib failed"; exit 1; }
echo "$list"
syms=$("$tool" --dump-elf-symbols "$lib") || { echo "FAIL: cuobjdump --dump-elf-symbols $lib failed"; exit 1; }
# "arch:symbol" for every kernel entry point (STO_ENTRY) of every image.
entries=$(awk '/^arch = /{arch=$3} /STO_ENTRY/{print arch ":" $NF}' <<<"$syms")
fail=0
for a in "$@"; do
  if ! grep -q "\.sm_${a}\.cubin" <<<"$list"; then
    echo "FAIL: no sm_${a} ELF image in $lib"
    fail=1
    continue
  fi
  # Mangled-name fragments: <length><name>, so packKernel does not match unpackKernel.
  for k in 10packKernel 10voteKernel 12unpackKernel 16voteUnpackKernel; do
    n=$(grep -c "^sm_${a}:.*${k}" <<<"$entries")
    if [ "$n" -eq 0 ]; then
      echo "FAIL: sm_${a} image has no ${k#[0-9][0-9]} entry point"
      fail=1
    else
      echo "sm_${a}: ${k#[0-9][0-9]} x${n}"
    fi
  done
done
[ $fail -eq 0 ] && echo "PASS: $lib has sm_$* images with every kernel" | sed 's/ \([0-9]\)/ sm_\1/g'
exit $fail
