#!/bin/sh
# SPDX-License-Identifier: MIT
# OpenMPI's rsh agent for netem.sh: "host" is a rank's address 198.18.0.K;
# run the launcher's command inside that rank's network namespace.
host="$1"
shift
exec ip netns exec "svnet${SVNET_ID}_${host##*.}" sh -c "$*"
