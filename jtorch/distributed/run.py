"""`python -m jtorch.distributed.run --nproc_per_node=N script.py args` (also `jtorchrun`): torchrun's
single-node launcher. Sets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
GROUP_RANK; if one worker fails, the others are terminated and the exit code is propagated."""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(argv):
    p = argparse.ArgumentParser(prog="jtorchrun", description=__doc__)
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1")
    p.add_argument("--nnodes", default="1")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0)
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", type=int, default=None)
    p.add_argument("--standalone", action="store_true")
    p.add_argument("--rdzv-backend", "--rdzv_backend", default=None)
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default=None)
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0)
    p.add_argument("--monitor-interval", "--monitor_interval", type=float, default=0.1)
    p.add_argument("--run-path", "--run_path", action="store_true")
    p.add_argument("-m", "--module", action="store_true")
    p.add_argument("--no-python", "--no_python", action="store_true")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    nproc = int(a.nproc_per_node) if str(a.nproc_per_node).isdigit() else 1
    nnodes = int(str(a.nnodes).split(":")[-1])
    world = nproc * nnodes
    port = a.master_port or _free_port()
    procs = []
    for local in range(nproc):
        env = dict(os.environ, RANK=str(a.node_rank * nproc + local), LOCAL_RANK=str(local), WORLD_SIZE=str(world),
                   LOCAL_WORLD_SIZE=str(nproc), GROUP_RANK=str(a.node_rank), MASTER_ADDR=a.master_addr,
                   MASTER_PORT=str(port), TORCHELASTIC_RUN_ID="jtorch")
        env.setdefault("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", ""))
        if not env["JAX_PLATFORMS"]:
            env.pop("JAX_PLATFORMS")
        if a.no_python:
            cmd = [a.training_script] + a.training_script_args
        elif a.module:
            cmd = [sys.executable, "-u", "-m", a.training_script] + a.training_script_args
        else:
            cmd = [sys.executable, "-u", a.training_script] + a.training_script_args
        procs.append(subprocess.Popen(cmd, env=env))
    rc = 0
    try:
        while procs:
            for p in list(procs):
                r = p.poll()
                if r is None:
                    continue
                procs.remove(p)
                if r != 0:
                    rc = r
                    print(f"jtorchrun: worker pid {p.pid} exited with code {r}; terminating the others",
                          file=sys.stderr)
                    for q in procs:
                        q.send_signal(signal.SIGTERM)
                    deadline = time.time() + 10
                    for q in procs:
                        try:
                            q.wait(max(0.1, deadline - time.time()))
                        except subprocess.TimeoutExpired:
                            q.kill()
                    procs = []
                    break
            time.sleep(a.monitor_interval)
    except KeyboardInterrupt:
        for p in procs:
            p.kill()
        rc = 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
