"""The restricted unpickler behind `jtorch.load(..., weights_only=True)` (the default, as torch >= 2.6).

A checkpoint's pickle may name only globals on an allow-list: torch's tensor rebuild functions,
storage classes, dtypes, torch.Size, torch.device, OrderedDict and a few builtins (what torch
allows), plus whatever the user added with `add_safe_globals`. torch's names are mapped onto
jtorch's objects here (checkpoints written by real torch name `torch._utils._rebuild_tensor_v2`).
Anything else (os.system, eval, an arbitrary class...) is refused with torch's
`pickle.UnpicklingError` *before* it is looked up, so no code of the pickle's choosing runs.
"""
import _compat_pickle
import collections
import pickle

_WEIGHTS_ONLY_INTRO = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, do those steps "
    "only if you trust the source of the checkpoint. \n\t(1) In PyTorch 2.6, we changed the default value of the "
    "`weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` "
    "set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the "
    "file from a trusted source.\n\t(2) Alternatively, to load with `weights_only=True` please check the "
    "recommended steps in the following error message.\n\tWeightsUnpickler error: ")
_WEIGHTS_ONLY_BLOCKED_INTRO = (
    "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely "
    "succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted "
    "source.\n\n\n")
_WEIGHTS_ONLY_OUTRO = ("\n\nCheck the documentation of torch.load to learn more about types accepted by default "
                       "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")

# Modules whose globals are never loaded with weights_only, even when allow-listed by name.
_BLOCKED_MODULES = {"sys", "os", "posix", "nt", "subprocess", "shutil", "socket", "importlib",
                    "runpy", "pty", "platform", "ctypes", "code", "codeop", "pickle", "_pickle", "marshal",
                    "multiprocessing", "webbrowser", "asyncio", "threading", "signal", "io", "_io", "tempfile",
                    "pathlib", "commands", "popen2", "cProfile", "profile", "pdb", "timeit", "functools",
                    "operator", "types", "inspect"}


def weights_only_error(detail, blocked=False):
    intro = _WEIGHTS_ONLY_BLOCKED_INTRO if blocked else _WEIGHTS_ONLY_INTRO
    return pickle.UnpicklingError(intro + detail + _WEIGHTS_ONLY_OUTRO)


def _encode(s, encoding="latin1"):
    # protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); allow exactly that
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise weights_only_error("_codecs.encode is only allowed for bytes (str, 'latin1')")
    return s.encode(encoding)


def _get_layout(name):
    # torch.serialization._get_layout("torch.strided") -> the layout object
    from ._layout import LAYOUTS
    return LAYOUTS.get(str(name).replace("torch.", ""), name)


def _allowed_globals():
    """'module.name' (as the pickle names it, torch's spelling) -> the jtorch object to use."""
    from . import _dtype as D
    from ._device import device
    from ._tensor import Tensor, Size
    from . import storage as S
    from . import serialization as ser
    rc = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.Size": Size,
        "torch.Tensor": Tensor,
        "torch.device": device,
        "torch.nn.parameter.Parameter": ser._param_placeholder,
        "torch.serialization._get_layout": _get_layout,
        "_codecs.encode": _encode,
        "builtins.bytearray": bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch.storage.UntypedStorage": S.UntypedStorage,
        "torch.storage.TypedStorage": S.TypedStorage,
        "torch.UntypedStorage": S.UntypedStorage,
        "torch.TypedStorage": S.TypedStorage,
        "torch._tensor._rebuild_from_type_v2": ser._rebuild_from_type_v2,
    }
    for d in D.ALL:
        rc["torch." + d.name] = d
    for name, cls in S.LEGACY_CLASSES.items():
        rc["torch." + name] = cls
    for name in ser.REBUILD_FUNCTIONS:
        rc["torch._utils." + name] = getattr(ser, name)
    return rc


_ALLOWED = None


def allowed_globals():
    global _ALLOWED
    if _ALLOWED is None:
        _ALLOWED = _allowed_globals()
    return _ALLOWED


def _fix_name(module, name):
    # protocol 2 writes Python 2 names (__builtin__.set); map them as pickle itself does
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


class Unpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class only returns allow-listed globals."""

    def __init__(self, file, *, persistent_load=None, user_globals=None, encoding="utf-8"):
        super().__init__(file, encoding=encoding)
        if persistent_load is not None:
            self.persistent_load = persistent_load
        self._user = user_globals or {}

    def find_class(self, module, name):
        module, name = _fix_name(module, name)
        full = f"{module}.{name}"
        obj = allowed_globals().get(full)
        if obj is not None:
            if callable(obj) and getattr(obj, "_resolve_lazily", False):
                return obj()
            return obj
        user = self._user
        if full in user:
            return user[full]
        if module == "torch" or module.startswith("torch."):
            alt = "j" + full
            if alt in user:
                return user[alt]
        if module.split(".")[0] in _BLOCKED_MODULES:
            raise weights_only_error(f"Trying to load unsupported GLOBAL {full} whose module {module} is blocked.",
                                     blocked=True)
        raise weights_only_error(
            f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
            f"`torch.serialization.add_safe_globals([{name}])` or the "
            f"`torch.serialization.safe_globals([{name}])` context manager to allowlist this global if you trust "
            f"this class/function.")
