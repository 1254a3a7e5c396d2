"""torch.futures: a Future that is already (or soon) complete. jtorch runs work eagerly, so
jtorch.jit.fork computes its result at once and hands back a completed Future."""


class Future:
    def __init__(self, *, devices=None):
        self._done, self._value, self._exc, self._callbacks = False, None, None, []

    def done(self):
        return self._done

    def set_result(self, result):
        if self._done:
            raise RuntimeError("Future can only be marked completed once.")
        self._done, self._value = True, result
        self._run_callbacks()

    def set_exception(self, result):
        if self._done:
            raise RuntimeError("Future can only be marked completed once.")
        self._done, self._exc = True, result
        self._run_callbacks()

    def _run_callbacks(self):
        cbs, self._callbacks = self._callbacks, []
        for cb in cbs:
            cb(self)

    def wait(self):
        if not self._done:
            raise RuntimeError("jtorch: Future.wait() on a future nobody will complete (no async workers)")
        if self._exc is not None:
            raise self._exc
        return self._value

    value = wait

    def then(self, callback):
        fut = Future()

        def run(f):
            try:
                fut.set_result(callback(f))
            except Exception as e:  # noqa: BLE001 (the callback's error belongs to the chained future)
                fut.set_exception(e)
        self.add_done_callback(run)
        return fut

    def add_done_callback(self, callback):
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)


def collect_all(futures):
    out = Future()
    out.set_result(list(futures))
    return out


def wait_all(futures):
    return [f.wait() for f in futures]


__all__ = ["Future", "collect_all", "wait_all"]
