#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Per-rank environment of the multi-rank GPU tests: run_mpi.sh NP per_rank_env.sh PROGRAM [ARGS...]
#
# NCCL refuses two ranks of one communicator on the same GPU of the same host
# ("Duplicate GPU detected", ncclInvalidUsage, since NCCL 2.5): it tells
# hosts apart by a hash of the host name, or of NCCL_HOSTID when set. Ranks
# that share a GPU therefore each get their own NCCL_HOSTID, so NCCL treats
# them as separate hosts and connects them through its network transport
# (sockets; on loopback here, IB off). Slower than NVLink/P2P, fine for
# correctness tests; real runs use one rank per GPU and do not need this.
# With at least as many GPUs as node-local ranks nothing is changed; when the
# GPU count cannot be found (no nvidia-smi) and ranks share the node, it is
# set anyway (correct, only slower).
set -euo pipefail
rank="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${PMIX_RANK:-0}}}"
local_size="${OMPI_COMM_WORLD_LOCAL_SIZE:-${MPI_LOCALNRANKS:-1}}"
ngpu=0
if command -v nvidia-smi >/dev/null 2>&1; then
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  ngpu=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c . || true)
fi
# GPU count unknown (no nvidia-smi): assume sharing whenever ranks do.
if { [ "$ngpu" -gt 0 ] && [ "$local_size" -gt "$ngpu" ]; } || { [ "$ngpu" -eq 0 ] && [ "$local_size" -gt 1 ]; }; then
  export NCCL_HOSTID="${NCCL_HOSTID:-signvote-test}-rank${rank}"
  export NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-lo}"
  export NCCL_IB_DISABLE="${NCCL_IB_DISABLE:-1}"
fi
exec "$@"
