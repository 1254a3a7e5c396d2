"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode. Thread-local, as torch's."""
import functools
import inspect
import threading


class _State(threading.local):
    enabled = True
    inference = False


STATE = _State()


def is_grad_enabled():
    return STATE.enabled


def is_inference_mode_enabled():
    return STATE.inference


class _Mode:
    """Base for context managers that double as decorators (also on generators)."""

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise RuntimeError(f"{type(self).__name__} cannot decorate a class")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*a, **k):
                it = fn(*a, **k)
                with self.clone():
                    try:
                        val = next(it)
                    except StopIteration as e:
                        return e.value
                while True:
                    try:
                        sent = yield val
                    except GeneratorExit:
                        it.close()
                        raise
                    with self.clone():
                        try:
                            val = it.send(sent)
                        except StopIteration as e:
                            return e.value
            return gen

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self.clone():
                return fn(*a, **k)
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_Mode):
    def __enter__(self):
        self.prev = STATE.enabled
        STATE.enabled = False

    def __exit__(self, *exc):
        STATE.enabled = self.prev


class enable_grad(_Mode):
    def __enter__(self):
        self.prev = STATE.enabled
        STATE.enabled = True

    def __exit__(self, *exc):
        STATE.enabled = self.prev


class set_grad_enabled(_Mode):
    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = STATE.enabled
        STATE.enabled = self.mode  # torch applies it at construction, so a bare call works too

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        STATE.enabled = self.prev

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_Mode):
    def __init__(self, mode=True):
        self.mode = mode

    def __call__(self, fn=None):
        if fn is None or isinstance(fn, bool):
            return inference_mode(True if fn is None else fn)
        return super().__call__(fn)

    def __enter__(self):
        self.prev = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled, STATE.inference = False, True

    def __exit__(self, *exc):
        STATE.enabled, STATE.inference = self.prev

    def clone(self):
        return inference_mode(self.mode)
