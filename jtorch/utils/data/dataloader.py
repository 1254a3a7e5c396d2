"""DataLoader with torch's arguments and semantics.

num_workers > 0 runs real worker processes (real parallelism for CPU-heavy __getitem__), made
safe for JAX: workers are forked from a clean zygote process (never from this JAX-using one, which
would hang), receive the dataset pickled by value (so a script without an
`if __name__ == '__main__'` guard is never re-executed), run JAX on the CPU only, and send
batches back as numpy arrays that become jtorch tensors here. `multiprocessing_context` is accepted
and validated as torch's, but every start method uses this mechanism (the closest to torch's
'forkserver'). pin_memory=True with an accelerator puts batches on it (jax.device_put) as they
arrive, ahead of use, so the copy overlaps compute.
"""
import itertools
import math
import multiprocessing
import os
import pickle
import threading
import warnings
import weakref
from multiprocessing.connection import wait as _wait

from . import _utils
from ._utils import collate as _collate
from ._utils.fetch import _DatasetKind
from ._utils.worker import ExceptionWrapper, _IterableDatasetStopIteration
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _new_seed

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

default_collate = _collate.default_collate
default_convert = _collate.default_convert
get_worker_info = _utils.worker.get_worker_info

_STATUS_CHECK_INTERVAL = 5.0


class _InfiniteConstantSampler(Sampler):
    """Yields None forever: the 'index' of an iterable dataset's next item."""

    def __iter__(self):
        while True:
            yield None


def _pin_device(device):
    """The jax device that pin_memory=True puts batches on, or None (no accelerator)."""
    from ... import _device as dev_mod
    if device:
        return dev_mod.jax_device(dev_mod.device(device))
    accs = dev_mod.accelerator_devices()
    if accs:
        from ... import cuda
        return accs[cuda.current_device()]
    tpus = dev_mod._backend_devices("tpu")
    return tpus[0] if tpus else None


def _to_device(data, jdev):
    """torch's pin_memory walk: move every tensor inside `data` onto `jdev`."""
    import collections.abc
    import jax
    from ..._tensor import Tensor, wrap
    if isinstance(data, Tensor):
        t = wrap(jax.device_put(data._value, jdev))
        if data._requires_grad:
            t._requires_grad = True
        return t
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                import copy
                clone = copy.copy(data)
                clone.update({k: _to_device(v, jdev) for k, v in data.items()})
                return clone
            return type(data)({k: _to_device(v, jdev) for k, v in data.items()})
        except TypeError:
            return {k: _to_device(v, jdev) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_to_device(s, jdev) for s in data))
    if isinstance(data, tuple):
        return [_to_device(s, jdev) for s in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                import copy
                clone = copy.copy(data)
                for i, s in enumerate(data):
                    clone[i] = _to_device(s, jdev)
                return clone
            return type(data)([_to_device(s, jdev) for s in data])
        except TypeError:
            return [_to_device(s, jdev) for s in data]
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches (see the module docstring)."""

    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if isinstance(shuffle, bool) and shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            elif sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            elif batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None
        self.check_worker_number_rationality()
        if num_workers > 0:
            from ._utils import process
            process.prestart()  # the worker launcher imports JAX in the background meanwhile

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context):
        if multiprocessing_context is not None:
            if self.num_workers > 0:
                if isinstance(multiprocessing_context, str):
                    valid = multiprocessing.get_all_start_methods()
                    if multiprocessing_context not in valid:
                        raise ValueError("multiprocessing_context option should specify a valid start method in "
                                         f"{valid!r}, but got multiprocessing_context={multiprocessing_context!r}")
                    multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
                if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                    raise TypeError("multiprocessing_context option should be a valid context object or a string "
                                    f"specifying the start method, but got "
                                    f"multiprocessing_context={multiprocessing_context}")
            else:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val):
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self):
        if self.num_workers <= 1:
            return
        max_workers = None
        if hasattr(os, "sched_getaffinity"):
            try:
                max_workers = len(os.sched_getaffinity(0))
            except Exception:  # noqa: BLE001
                pass
        if max_workers is None:
            max_workers = os.cpu_count()
        if max_workers is not None and self.num_workers > max_workers:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in total. Our suggested "
                          f"max number of worker in current system is {max_workers}, which is smaller than what "
                          "this DataLoader is going to create. Please be aware that excessive worker creation might "
                          "get DataLoader running slow or even freeze, lower the worker number to avoid potential "
                          "slowness/freeze if necessary.")


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._shared_seed = None
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._pin_device = None
        if loader.pin_memory:
            self._pin_device = _pin_device(loader.pin_memory_device)
            if self._pin_device is None:
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                              "memory won't be used.")
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = _new_seed(loader.generator)
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0
        self._profile_name = f"enumerate(DataLoader)#{self.__class__.__name__}.__next__"

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        if self._sampler_iter is None:
            self._reset(None)  # pragma: no cover  (torch's bug-compat path)
        data = self._next_data()
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called} (when accessing len(dataloader)), but {self._num_yielded} "
                   "samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly configuring the "
                        "IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for examples.")
            warnings.warn(msg)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._dataset_fetcher = _DatasetKind.create_fetcher(self._dataset_kind, self._dataset, self._auto_collation,
                                                            self._collate_fn, self._drop_last)

    def _next_data(self):
        index = self._next_index()
        data = self._dataset_fetcher.fetch(index)
        if self._pin_device is not None:
            data = _to_device(data, self._pin_device)
        return data


_live_iterators = weakref.WeakSet()
_live_lock = threading.Lock()


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers fetch batches for the indices this process sends them, up to prefetch_factor
    outstanding per worker; results come back over each worker's socket (see _utils/worker.py)."""

    def __init__(self, loader):
        super().__init__(loader)
        import cloudpickle
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be positive with num_workers > 0")
        self._in_order = loader.in_order
        self._worker_init_fn = loader.worker_init_fn
        self._shutdown = True
        self._workers = []
        try:
            blob = cloudpickle.dumps((self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn,
                                      self._drop_last, self._worker_init_fn), protocol=pickle.HIGHEST_PROTOCOL)
        except (TypeError, pickle.PicklingError, AttributeError) as e:
            raise type(e)(f"DataLoader with num_workers > 0 sends the dataset, collate_fn and worker_init_fn to its "
                          f"worker processes by pickling them (cloudpickle), which failed: {e}") from e
        self._blob = blob
        self._epoch = 0
        self._start_workers()
        self._reset(loader, first_iter=True)

    def _start_workers(self):
        from ._utils import process
        self._workers = process.start_workers(self._num_workers)
        self._shutdown = False
        with _live_lock:
            _live_iterators.add(self)
        for w in self._workers:
            seed = self._base_seed + w.worker_id
            w.send(("init", self._blob, w.worker_id, self._num_workers, seed))

    # ------------------------------------------------------------------ task bookkeeping
    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._epoch += 1
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}  # idx -> [worker_id] while pending, [worker_id, data] once received
        self._tasks_outstanding = 0
        self._workers_num_tasks = [0] * self._num_workers
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            if self._shutdown:  # persistent workers that were stopped (a worker died): start afresh
                self._start_workers()
            else:
                for w in self._workers:
                    if w.conn is not None:
                        w.send(("reset", self._epoch))
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        max_tasks = self._prefetch_factor * self._num_workers
        if self._tasks_outstanding >= max_tasks:
            return
        for _ in range(self._num_workers):
            wid = next(self._worker_queue_idx_cycle)
            if self._workers_status[wid]:
                if self._in_order:
                    break
                if self._workers_num_tasks[wid] < max_tasks // max(sum(self._workers_status), 1):
                    break
        else:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        self._workers[wid].send(("fetch", self._epoch, self._send_idx, index))
        self._task_info[self._send_idx] = [wid]
        self._workers_num_tasks[wid] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _live_conns(self):
        return {w.conn: w for w in self._workers if w.conn is not None and self._workers_status[w.worker_id]}

    def _receive(self, conn, w):
        """One message from worker w; a closed connection means the worker died."""
        try:
            buf = conn.recv_bytes()
        except (EOFError, OSError):
            self._worker_died(w)
        epoch, idx, data = pickle.loads(buf)
        return epoch, idx, data

    def _worker_died(self, w):
        from ._utils import process
        pid = w.pid
        status = process.get_zygote().exit_status(pid, wait=1.0) if process._zygote is not None else None
        self._shutdown_workers()
        raise RuntimeError(f"DataLoader worker (pid {pid}) exited unexpectedly{process.describe_exit(status)}")

    def _store(self, epoch, idx, data):
        """File a worker's result; returns True if it belongs to the current epoch."""
        if epoch != self._epoch or idx not in self._task_info:
            return False
        info = self._task_info[idx]
        wid = info[0]
        self._workers_num_tasks[wid] -= 1
        self._tasks_outstanding -= 1
        if isinstance(data, _IterableDatasetStopIteration):
            if self._persistent_workers:
                self._workers_status[wid] = False
            else:
                self._mark_worker_as_unavailable(wid)
            del self._task_info[idx]
            self._try_put_index()
            return True
        if self._pin_device is not None and not isinstance(data, ExceptionWrapper):
            data = _to_device(data, self._pin_device)
        info.append(data)
        return True

    def _poll_ready(self):
        """Receive whatever results are already waiting (prefetch onto the device), without blocking."""
        conns = self._live_conns()
        if not conns:
            return
        for conn in _wait(list(conns), 0):
            w = conns[conn]
            while w.conn is not None and self._workers_status[w.worker_id] and w.conn.poll(0):
                self._store(*self._receive(w.conn, w))

    def _get_one(self):
        """Block until one result arrives (or the timeout passes) and file it."""
        timeout = self._timeout if self._timeout > 0 else None
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            conns = self._live_conns()
            if not conns:
                return
            left = _STATUS_CHECK_INTERVAL if deadline is None else min(deadline - time.monotonic(),
                                                                      _STATUS_CHECK_INTERVAL)
            ready = _wait(list(conns), max(left, 0))
            if ready:
                for conn in ready:
                    w = conns[conn]
                    if w.conn is not None and self._workers_status[w.worker_id]:
                        self._store(*self._receive(conn, w))
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _next_data(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None:
                    wid = info[0]
                    if len(info) == 2 or self._workers_status[wid]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process_data(info[1])
            if not self._in_order:
                for idx in sorted(self._task_info):
                    other = self._task_info[idx]
                    if len(other) == 2:
                        del self._task_info[idx]
                        return self._process_data(other[1])
            if self._shutdown:
                raise StopIteration
            self._get_one()

    def _process_data(self, data):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        if self._pin_device is not None:
            self._poll_ready()  # put the next batches on the device while this one is used
        return data

    def _mark_worker_as_unavailable(self, worker_id):
        self._workers_status[worker_id] = False
        self._workers[worker_id].stop()

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        for w in self._workers:
            w.stop()
        with _live_lock:
            _live_iterators.discard(self)

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:  # noqa: BLE001
            pass


def _shutdown_all():
    with _live_lock:
        its = list(_live_iterators)
    for it in its:
        try:
            it._shutdown_workers()
        except Exception:  # noqa: BLE001
            pass


import atexit  # noqa: E402

atexit.register(_shutdown_all)
