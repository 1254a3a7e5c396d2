"""torch.jit as pass-throughs: jtorch has no TorchScript, so @torch.jit.script / torch.jit.trace
return the function or module unchanged and it runs eagerly (use jtorch.compile for speed).
jit.save / jit.load (and `scripted.save(path)`) keep the Python module itself, pickled in torch's
checkpoint format: jtorch.jit.load gives it back, while real torch.jit.load cannot read it (there
is no TorchScript code inside). TorchScript IR objects raise NotImplementedError.
"""
import typing as _typing

from ..futures import Future

Final = _typing.Final


def _scripted(obj):
    """A module through script/trace gains ScriptModule's `save(path)` (only that object)."""
    from ..nn import Module
    if isinstance(obj, Module) and "save" not in obj.__dict__ and not hasattr(type(obj), "save"):
        object.__setattr__(obj, "save", _SaveMethod(obj))
    return obj


class _SaveMethod:
    """`scripted.save(f, _extra_files=None)` (a class, not a closure: the module stays picklable)."""
    def __init__(self, mod):
        self.mod = mod

    def __call__(self, f, _extra_files=None):
        save(self.mod, f, _extra_files)


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    return _scripted(obj)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    return _scripted(func)


def trace_module(mod, inputs, *args, **kwargs):
    return _scripted(mod)


def save(m, f, _extra_files=None):
    """torch.jit.save: the module object itself, in torch's checkpoint format (see the module doc)."""
    from ..serialization import save as _save
    _save({"__jtorch_jit_module__": m, "extra_files": dict(_extra_files or {})}, f)


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    from ..serialization import load as _load
    obj = _load(f, map_location=map_location, weights_only=False)
    if not isinstance(obj, dict) or "__jtorch_jit_module__" not in obj:
        raise RuntimeError("jtorch.jit.load: not a file written by jtorch.jit.save (TorchScript archives from real "
                           "torch cannot be run: jtorch has no TorchScript interpreter)")
    if _extra_files is not None:
        for k in _extra_files:
            v = obj["extra_files"].get(k, b"")
            _extra_files[k] = v.encode() if isinstance(v, str) else v
    return obj["__jtorch_jit_module__"]


def script_if_tracing(fn):
    return fn


def _identity_decorator(drop_or_fn=None, **kwargs):
    # usable as @ignore and @ignore(drop=True)
    if callable(drop_or_fn):
        return drop_or_fn
    return lambda fn: fn


ignore = _identity_decorator
unused = _identity_decorator
export = _identity_decorator
interface = _identity_decorator
_overload_method = _identity_decorator


def is_scripting():
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    return the_value


def Attribute(value, type=None):  # noqa: N802  (torch's spelling)
    return value


def isinstance(obj, target_type):  # noqa: A001  (torch.jit.isinstance)
    import builtins
    origin = _typing.get_origin(target_type)
    return builtins.isinstance(obj, origin or target_type)


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


def fork(func, *args, **kwargs):
    """Runs func now and returns a completed Future (torch runs it on an inter-op thread)."""
    fut = Future()
    try:
        fut.set_result(func(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 (surfaces at wait(), as in torch)
        fut.set_exception(e)
    return fut


def wait(future):
    return future.wait()


class strict_fusion:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def enable_onednn_fusion(enabled):
    pass


def onednn_fusion_enabled():
    return False


def set_fusion_strategy(strategy):
    return strategy


def _script_only(name):
    def f(*args, **kwargs):
        raise NotImplementedError(f"jtorch: torch.jit.{name} is not supported: TorchScript does not exist in jtorch "
                                  "(modules stay Python; save weights with jtorch.save, export with jtorch.export) "
                                  "(see docs/unsupported.md)")
    f.__name__ = name
    return f




_CLASSES = {}


def _never_instantiated(name):
    if name not in _CLASSES:
        if name == "ScriptFunction":
            _CLASSES[name] = type(name, (), {"__module__": "jtorch.jit"})
        else:
            from ..nn import Module
            _CLASSES[name] = type(name, (Module,), {"__module__": "jtorch.jit"})
    return _CLASSES[name]


def __getattr__(name):
    if name in ("ScriptModule", "ScriptFunction", "RecursiveScriptModule", "CompilationUnit", "TracerWarning",
                "TopLevelTracedModule"):
        if name in ("ScriptModule", "RecursiveScriptModule", "ScriptFunction"):
            # real classes that nothing is an instance of: jit.script returns the object unchanged, so
            # `isinstance(m, torch.jit.ScriptModule)` is False, as for an unscripted torch module
            return _never_instantiated(name)
        if name == "TracerWarning":
            return Warning
        from .._unsupported import Unsupported
        raise Unsupported(f"jtorch: torch.jit.{name} is not supported: TorchScript internals "
                          "(see docs/unsupported.md)")
    raise AttributeError(f"module 'jtorch.jit' has no attribute '{name}'")
