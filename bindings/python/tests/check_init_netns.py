# SPDX-License-Identifier: MIT
# ctest python_init_netns: signvote.torch.init_process_group_from_mpi where
# the ranks share a host name but not a network (perf/netem/netem.sh puts
# each in its own namespace, where 127.0.0.1 is its own): the rendezvous
# must find an address of rank 0 that every rank reaches, and gloo the
# interface towards it. Then an all-reduce over gloo and a signvote vote
# over the torch group, both checked. Exit 0 and "OK" from rank 0.
import os
import socket
import sys

import torch
import torch.distributed as dist

import signvote
import signvote.torch as svt

rank, size = svt.init_process_group_from_mpi("gloo")
x = torch.full((4,), float(rank + 1))
dist.all_reduce(x)
want = size * (size + 1) / 2
ok = bool(torch.all(x == want))
comm = signvote.Communicator.from_torch()
v = comm.allreduce_sign(torch.full((5,), 1.0 if rank % 2 == 0 else -1.0))
ok = ok and bool(torch.all(v == 1.0))  # ranks 0, 2, ... vote +1: a majority or a tie (+1)
if not ok:
    print(f"rank {rank}: FAILED: all_reduce {x.tolist()} (want {want}), vote {v.tolist()}", flush=True)
comm.close()
flags = [torch.tensor([int(ok)])]
dist.all_reduce(flags[0], op=dist.ReduceOp.MIN)
if rank == 0:
    print(f"{'OK' if flags[0].item() else 'FAILED'}: {size} ranks, host {socket.gethostname()}, "
          f"MASTER via {os.environ.get('GLOO_SOCKET_IFNAME')}", flush=True)
dist.destroy_process_group()
sys.exit(0 if flags[0].item() else 1)
