#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run an MPI program across N emulated hosts on this machine: N network
# namespaces joined by a bridge, each behind a veth link shaped with tc to a
# given rate (both directions) and optional latency. Addresses are
# 198.18.0.1..N/24 (the benchmarking range), the bridge is 198.18.0.254.
# Needs root, iproute2 (ip, tc) and OpenMPI. Everything is torn down on exit,
# failure or interrupt.
#
#   perf/netem/netem.sh -n 4 -r 1gbit [-d 0.1ms] -- build/perf/sv_allreduce_perf -b 100M -e 100M
#
# With -L K, nodes of K ranks: n/K namespaces, ranks 0..K-1 in the first,
# and so on. Ranks of one namespace reach each other through its loopback
# (unshaped, like a node's local links); only traffic between nodes crosses
# the shaped links. Open MPI starts one daemon per namespace, so each looks
# like its own node to MPI_Comm_split_type and to signvote's topology.
#
# Ranks talk over TCP only (--mca btl tcp,self), so shared memory cannot
# bypass the emulated links; idle ranks yield the CPU (mpi_yield_when_idle),
# since busy-polling ranks starve the ones moving bytes when ranks outnumber
# cores.
set -euo pipefail

usage() {
  echo "usage: $0 [-n ranks (4)] [-L ranks per node (1)] [-r rate (1gbit)] [-d delay (none)] [-m mpirun args] -- program [args...]" >&2
  exit 2
}

nranks=4 pernode=1 rate=1gbit delay="" extra=""
while getopts "n:L:r:d:m:h" opt; do
  case $opt in
    n) nranks=$OPTARG ;;
    L) pernode=$OPTARG ;;
    r) rate=$OPTARG ;;
    d) delay=$OPTARG ;;
    m) extra=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces, tc)" >&2; exit 2; }
[ "$nranks" -ge 1 ] && [ "$nranks" -le 200 ] || { echo "$0: 1..200 ranks" >&2; exit 2; }
[ "$pernode" -ge 1 ] && [ $((nranks % pernode)) -eq 0 ] || { echo "$0: -L must divide -n" >&2; exit 2; }
nhosts=$((nranks / pernode))

here=$(cd "$(dirname "$0")" && pwd)
id=$$
export SVNET_ID=$id
export SV_GLOO_IFACE=eth0  # the Gloo baseline binds to the emulated link
# The ranks stand for separate hosts: signvote must not share memory between
# them either (it would for small all-gathers, since they share this kernel).
export SV_SHM=0
bridge="svbr$id"
work=$(mktemp -d)

cleanup() {
  set +e
  for i in $(seq 1 "$nhosts"); do
    ip netns del "svnet${id}_$i" 2>/dev/null
    ip link del "svh${id}_$i" 2>/dev/null
  done
  ip link del "$bridge" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Token bucket depth: 0.5 ms of line rate, and at least 128 KiB. Not much
# more, or messages smaller than a bucket pass at memory speed (tc's "kb" is
# kilobytes: a fixed 512kb bucket let 0.5 MiB bursts through unshaped); not
# less than two 64 KiB GSO segments, or tbf chops them and traffic in both
# directions at once gets half the rate (measured: 464 against 958 Mbit/s
# per direction at 1gbit with a 62.5 KB bucket).
rate_bits=$(echo "$rate" | awk '{ v = $1 + 0; u = tolower($1); sub(/^[0-9.]+/, "", u);
  m = (u ~ /^g/) ? 1e9 : (u ~ /^m/) ? 1e6 : (u ~ /^k/) ? 1e3 : 1; printf "%.0f", v * m }')
burst=$(( rate_bits / 8 / 2000 ))
[ "$burst" -ge 131072 ] || burst=131072
burst=${NETEM_BURST:-$burst}  # override for experiments

shape() {  # shape <netns-or-empty> <dev>: rate limit (and delay) egress of dev
  local ns=$1 dev=$2 run=()
  [ -n "$ns" ] && run=(ip netns exec "$ns")
  if [ -n "$delay" ]; then
    "${run[@]}" tc qdisc add dev "$dev" root handle 1: netem delay "$delay" limit 100000
    "${run[@]}" tc qdisc add dev "$dev" parent 1: handle 2: tbf rate "$rate" burst "$burst" latency 100ms
  else
    "${run[@]}" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 100ms
  fi
}

ip link add "$bridge" type bridge
ip addr add 198.18.0.254/24 dev "$bridge"
ip link set "$bridge" up
: >"$work/hosts"
for i in $(seq 1 "$nhosts"); do
  ns="svnet${id}_$i" hostdev="svh${id}_$i"
  ip netns add "$ns"
  ip link add "$hostdev" type veth peer name eth0 netns "$ns"
  ip link set "$hostdev" master "$bridge" up
  ip netns exec "$ns" ip addr add "198.18.0.$i/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
  shape "$ns" eth0      # this host's upload
  shape "" "$hostdev"   # this host's download
  echo "198.18.0.$i slots=$pernode" >>"$work/hosts"
done

echo "# netem: $nhosts hosts 198.18.0.1-$nhosts ($pernode rank(s) each), links $rate each way (bucket $burst B)${delay:+, delay $delay}" >&2
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
# shellcheck disable=SC2086
mpirun "${root[@]}" -np "$nranks" --hostfile "$work/hosts" \
  --mca plm_rsh_agent "$here/rsh-agent.sh" \
  --mca oob_tcp_if_include 198.18.0.0/24 \
  --mca btl tcp,self --mca btl_tcp_if_include 198.18.0.0/24 \
  --mca mpi_yield_when_idle 1 \
  -x SVNET_ID -x SV_GLOO_IFACE -x SV_SHM -x LD_LIBRARY_PATH -x PATH $extra \
  "$@"
