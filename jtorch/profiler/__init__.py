"""jtorch.profiler on jax.profiler traces: profile/record_function/schedule/tensorboard_trace_handler,
with key_averages().table() built from wall-clock timings of record_function regions."""
import contextlib
import enum
import os
import time
from collections import defaultdict


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0):
    def fn(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        period = wait + warmup + active
        if repeat and step // period >= repeat:
            return ProfilerAction.NONE
        m = step % period
        if m < wait:
            return ProfilerAction.NONE
        if m < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD_AND_SAVE if m == period - 1 else ProfilerAction.RECORD
    return fn


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    def handler(prof):
        prof._trace_dir = dir_name
    handler._dir = dir_name
    return handler


_ACTIVE = []


class _Event:
    def __init__(self, key, count, total):
        self.key, self.count, self.cpu_time_total = key, count, total
        self.cpu_time = total / max(count, 1)
        self.self_cpu_time_total = total


class _EventList(list):
    def table(self, sort_by=None, row_limit=100, **kw):
        rows = sorted(self, key=lambda e: -e.cpu_time_total)[:row_limit]
        total = sum(e.cpu_time_total for e in self) or 1.0
        w = max([len(e.key) for e in rows] + [4])
        lines = [f"{'Name':<{w}}  {'CPU total %':>11}  {'CPU total':>12}  {'CPU time avg':>12}  {'# of Calls':>10}"]
        lines.append("-" * len(lines[0]))
        for e in rows:
            lines.append(f"{e.key:<{w}}  {100 * e.cpu_time_total / total:>10.2f}%  {_fmt(e.cpu_time_total):>12}  "
                         f"{_fmt(e.cpu_time):>12}  {e.count:>10}")
        lines.append("-" * len(lines[0]))
        lines.append(f"Self CPU time total: {_fmt(total)}")
        return "\n".join(lines)


def _fmt(us):
    return f"{us / 1000:.3f}ms" if us >= 1000 else f"{us:.3f}us"


class profile:
    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False, experimental_config=None,
                 use_cuda=None):
        self.schedule, self.on_trace_ready = schedule, on_trace_ready
        self.events = defaultdict(lambda: [0, 0.0])
        self.step_num = 0
        self._recording = schedule is None
        self._trace_dir = getattr(on_trace_ready, "_dir", None)
        self._jax_tracing = False

    def __enter__(self):
        _ACTIVE.append(self)
        self._update()
        return self

    def __exit__(self, *exc):
        self._stop_trace()
        _ACTIVE.remove(self)
        if self.on_trace_ready is not None and self.schedule is None:
            self.on_trace_ready(self)

    def _update(self):
        if self.schedule is not None:
            act = self.schedule(self.step_num)
            self._recording = act in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if self._recording and self._trace_dir and not self._jax_tracing:
            import jax
            os.makedirs(self._trace_dir, exist_ok=True)
            jax.profiler.start_trace(self._trace_dir)
            self._jax_tracing = True

    def _stop_trace(self):
        if self._jax_tracing:
            import jax
            jax.profiler.stop_trace()
            self._jax_tracing = False

    def step(self):
        if self.schedule is not None and self.schedule(self.step_num) is ProfilerAction.RECORD_AND_SAVE:
            self._stop_trace()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        self.step_num += 1
        self._update()

    def start(self):
        return self.__enter__()

    def stop(self):
        return self.__exit__(None, None, None)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return _EventList(_Event(k, c, t) for k, (c, t) in self.events.items())

    def events(self):
        return self.key_averages()

    def export_chrome_trace(self, path):
        import json
        ev = [{"name": k, "ph": "X", "ts": 0, "dur": t, "pid": 0, "tid": 0} for k, (c, t) in self.events.items()]
        json.dump({"traceEvents": ev}, open(path, "w"))


class record_function(contextlib.ContextDecorator):
    def __init__(self, name, args=None):
        self.name = name

    def __enter__(self):
        import jax
        self._ann = jax.profiler.TraceAnnotation(self.name)
        self._ann.__enter__()
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        dt = (time.perf_counter() - self.t) * 1e6
        self._ann.__exit__(*exc)
        for p in _ACTIVE:
            if p._recording:
                e = p.events[self.name]
                e[0] += 1
                e[1] += dt
        return False
