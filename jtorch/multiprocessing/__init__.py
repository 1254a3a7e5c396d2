"""torch.multiprocessing: Python's multiprocessing plus torch's spawn(). jtorch tensors pickle by
value (no shared memory), and a child forked after JAX started can hang, so spawn is the default."""
import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

_sharing = ["file_system"]


def get_all_sharing_strategies():
    return {"file_system"}


def get_sharing_strategy():
    return _sharing[0]


def set_sharing_strategy(new_strategy):
    _sharing[0] = new_strategy


class ProcessRaisedException(Exception):
    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.error_index, self.pid = error_index, error_pid


class ProcessExitedException(ProcessRaisedException):
    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name


def _wrap(fn, i, args, q):
    import traceback
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:  # noqa: BLE001 (reported to the parent, as torch does)
        q.put(traceback.format_exc())
        raise SystemExit(1)


class ProcessContext:
    def __init__(self, processes, queues):
        self.processes, self.error_queues = processes, queues

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        for i, p in enumerate(self.processes):
            p.join(timeout)
        for i, (p, q) in enumerate(zip(self.processes, self.error_queues)):
            if p.exitcode not in (0, None):
                for other in self.processes:
                    if other.is_alive():
                        other.terminate()
                if not q.empty():
                    raise ProcessRaisedException(f"\n\n-- Process {i} terminated with the following error:\n{q.get()}",
                                                 i, p.pid)
                raise ProcessExitedException(f"process {i} terminated with exit code {p.exitcode}", i, p.pid,
                                             p.exitcode)
        return all(p.exitcode is not None for p in self.processes)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    ctx = _mp.get_context(start_method)
    procs, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        procs.append(p)
        queues.append(q)
    pc = ProcessContext(procs, queues)
    if not join:
        return pc
    while not pc.join():
        pass


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    return start_processes(fn, args, nprocs, join, daemon, start_method)
