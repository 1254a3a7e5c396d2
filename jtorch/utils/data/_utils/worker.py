"""DataLoader worker processes: get_worker_info() and the loop a worker runs.

A worker is forked from a clean "zygote" process that imported JAX but never initialized a
backend (see zygote.py), so it can use JAX (and jtorch) freely; its JAX sees only the CPU. It
receives the dataset pickled by value (cloudpickle), fetches and collates batches, and sends them
back pickled: jtorch tensors pickle as numpy arrays, so no JAX array crosses the boundary.

Messages, main -> worker: ("init", blob, worker_id, num_workers, seed), ("fetch", epoch, idx, index),
("reset", epoch), ("stop",). Worker -> main: (epoch, idx, data) where data is the batch, an
ExceptionWrapper, or _IterableDatasetStopIteration.
"""
import random
import sys
import traceback
from dataclasses import dataclass

__all__ = ["get_worker_info", "WorkerInfo"]

_worker_info = None


class WorkerInfo:
    """What get_worker_info() returns inside a worker: id, num_workers, seed, dataset (the
    worker's own copy)."""
    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = [f"{k}={getattr(self, k)}" for k in self.__keys]
        return f"{self.__class__.__name__}({', '.join(items)})"


def get_worker_info():
    """In a DataLoader worker: its WorkerInfo (id, num_workers, seed, dataset). Elsewhere: None."""
    return _worker_info


class KeyErrorMessage(str):
    """KeyError's str() quotes its message; this keeps the traceback readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, with its formatted traceback, re-raised in the main process."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        raise self._exception()

    def _exception(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            return self.exc_type(message=msg)
        try:
            return self.exc_type(msg)
        except Exception:  # noqa: BLE001  (an exception type whose constructor takes other arguments)
            return RuntimeError(msg)


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


def _np_seed(seed, worker_id):
    import numpy as np
    return np.random.SeedSequence([worker_id, seed & 0xFFFFFFFF, seed >> 32]).generate_state(4)


def _worker_main(fd):
    """Entry point of a worker process (called in the child right after the zygote forks it)."""
    from multiprocessing.connection import Connection
    conn = Connection(fd)
    try:
        _worker_loop(conn)
    except (KeyboardInterrupt, BrokenPipeError, EOFError, ConnectionError):
        pass  # the main process went away or was interrupted: it reports the error itself
    finally:
        try:
            conn.close()
        except OSError:
            pass
        sys.stdout.flush()
        sys.stderr.flush()


def _worker_loop(conn):
    global _worker_info
    import collections
    import pickle

    import cloudpickle

    import jtorch
    from .fetch import _DatasetKind

    def send(obj):
        try:
            data = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001  (a batch that cannot be pickled: report it as the batch's error)
            epoch, idx, _ = obj
            data = cloudpickle.dumps((epoch, idx, ExceptionWrapper(
                where=f"in DataLoader worker process {worker_id} while sending a batch to the main process")))
        conn.send_bytes(data)

    pending = collections.deque()

    def pull(block):
        """Move the messages waiting on the connection into `pending`; a reset drops stale fetches."""
        while block or conn.poll(0):
            msg = pickle.loads(conn.recv_bytes())
            block = False
            if msg[0] == "reset":
                kept = [m for m in pending if m[0] != "fetch"]
                pending.clear()
                pending.extend(kept)
            pending.append(msg)

    worker_id = None
    fetcher = None
    init_exception = None
    kind = dataset = auto_collation = collate_fn = drop_last = None
    epoch_iter_done = False
    while True:
        if not pending:
            pull(True)
        else:
            pull(False)
        msg = pending.popleft()
        tag = msg[0]
        if tag == "stop":
            return
        if tag == "init":
            _, blob, worker_id, num_workers, seed = msg
            init_exception = None
            fetcher = None
            try:
                kind, dataset, auto_collation, collate_fn, drop_last, init_fn = pickle.loads(blob)
                random.seed(seed)
                jtorch.manual_seed(seed)
                import numpy as np
                np.random.seed(_np_seed(seed, worker_id))
                _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
                if init_fn is not None:
                    init_fn(worker_id)
                fetcher = _DatasetKind.create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)
            except Exception:  # noqa: BLE001
                init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            epoch_iter_done = False
            continue
        if tag == "reset":
            epoch_iter_done = False
            if kind == _DatasetKind.Iterable and init_exception is None:
                try:
                    fetcher = _DatasetKind.create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)
                except Exception:  # noqa: BLE001
                    init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            continue
        # fetch
        _, epoch, idx, index = msg
        if init_exception is not None:
            data, init_exception = init_exception, None
        elif epoch_iter_done:
            data = _IterableDatasetStopIteration(worker_id)
        else:
            try:
                data = fetcher.fetch(index)
            except Exception as e:  # noqa: BLE001
                if isinstance(e, StopIteration) and kind == _DatasetKind.Iterable:
                    data = _IterableDatasetStopIteration(worker_id)
                    epoch_iter_done = True
                else:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        send((epoch, idx, data))
        del data
