#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Ranks of one machine standing for several nodes, as the topology detection
# sees them: emulated_nodes.sh SIZES PROGRAM [ARGS...] under mpirun. SIZES
# is the ranks per node, world ranks numbered node after node ("2,3": ranks
# 0-1 on one node, 2-4 on another). Each rank gets NCCL_HOSTID=svnode<k>
# (the node name signvote groups ranks by, src/topology.cc) and
# SV_TEST_NODE_SIZES=SIZES (for the test's expectations).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SIZES PROGRAM [ARGS...]" >&2; exit 2; }
sizes=$1
shift
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-0}}}
node=0 first=0
IFS=, read -r -a per <<< "$sizes"
for n in "${per[@]}"; do
  if [ "$rank" -lt $((first + n)) ]; then break; fi
  first=$((first + n))
  node=$((node + 1))
done
export NCCL_HOSTID="svnode$node" SV_TEST_NODE_SIZES="$sizes"
exec "$@"
