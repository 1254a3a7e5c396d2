"""torch.library and torch.ops, for Python-defined ops.

A custom op in jtorch is its Python function: it runs eagerly on jtorch ops (so autograd and
jtorch.compile see through it). register_fake is recorded but never needed (shapes come from
running the function); register_autograd installs the given backward with an autograd.Function.
torch.ops.<ns>.<name> finds custom ops, and torch.ops.aten.<name> the jtorch function of that name.
"""
import functools

_REGISTRY = {}   # "ns::name" -> callable


class CustomOpDef:
    def __init__(self, qualname, fn, mutates_args=(), schema=None):
        self._qualname, self._fn, self._fake, self._bwd, self._setup = qualname, fn, None, None, None
        self._kernels = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if self._bwd is not None:
            return self._with_autograd(*args, **kwargs)
        return self._fn(*args, **kwargs)

    def _with_autograd(self, *args, **kwargs):
        from .autograd import Function
        op = self

        class _Op(Function):
            @staticmethod
            def forward(ctx, *a):
                from .autograd.grad_mode import no_grad
                with no_grad():
                    out = op._fn(*a, **kwargs)
                if op._setup is not None:
                    op._setup(ctx, a, kwargs, out)
                return out

            @staticmethod
            def backward(ctx, *grads):
                g = op._bwd(ctx, *grads)
                return tuple(g) if isinstance(g, (tuple, list)) else (g,)
        return _Op.apply(*args)

    def register_fake(self, fn):
        self._fake = fn
        return fn

    register_abstract = register_fake

    def register_kernel(self, device_types, fn=None):
        def deco(f):
            self._kernels[device_types] = f
            return f
        return deco(fn) if fn is not None else deco

    def register_autograd(self, backward, *, setup_context=None):
        self._bwd, self._setup = backward, setup_context

    def register_torch_dispatch(self, *a, **k):
        raise NotImplementedError("jtorch: torch.library register_torch_dispatch is not supported: jtorch has no "
                                  "__torch_dispatch__ (see docs/unsupported.md)")

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    def deco(f):
        op = CustomOpDef(name, f, mutates_args, schema)
        _REGISTRY[name] = op
        return op
    return deco(fn) if fn is not None else deco


def register_fake(op, fn=None, /, *, lib=None, _stacklevel=1, allow_override=False):
    def deco(f):
        target = _REGISTRY.get(op) if isinstance(op, str) else op
        if isinstance(target, CustomOpDef):
            target.register_fake(f)
        return f
    return deco(fn) if fn is not None else deco


register_abstract = register_fake


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    target = _REGISTRY.get(op) if isinstance(op, str) else op
    if not isinstance(target, CustomOpDef):
        raise RuntimeError(f"jtorch: register_autograd needs an op made by torch.library.custom_op, got {op!r}")
    target.register_autograd(backward, setup_context=setup_context)


def register_kernel(op, device_types, fn=None, /, *, lib=None):
    def deco(f):
        return f
    return deco(fn) if fn is not None else deco


def impl(qualname, types=None, func=None, *, lib=None):
    """Register func as the implementation of a `define`d op (every device: there is one kernel)."""
    def deco(f):
        _REGISTRY[qualname] = f
        return f
    return deco(func) if func is not None else deco


def define(qualname, schema, *, lib=None, tags=()):
    _REGISTRY.setdefault(qualname, None)


class Library:
    """torch.library.Library(ns, kind): define() names ops; impl() gives their Python function."""

    def __init__(self, ns, kind, dispatch_key=""):
        if kind not in ("IMPL", "DEF", "FRAGMENT"):
            raise ValueError("Unsupported kind: ", kind)
        self.ns, self.kind = ns, kind

    def define(self, schema, alias_analysis="", *, tags=()):
        name = schema.split("(")[0].split(".")[0].strip()
        _REGISTRY.setdefault(f"{self.ns}::{name}", None)
        return name

    def impl(self, op_name, fn, dispatch_key="", *, with_keyset=False, allow_override=False):
        name = op_name if isinstance(op_name, str) else op_name.__name__
        _REGISTRY[f"{self.ns}::{name.split('.')[0]}"] = fn

    def _destroy(self):
        pass


class _OpPacket:
    """torch.ops.ns.name: callable, and every overload (.default, .Tensor, ...) is the same function."""

    def __init__(self, qualname, fn):
        self._qualname, self._fn = qualname, fn

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def __getattr__(self, overload):
        if overload.startswith("__"):
            raise AttributeError(overload)
        return self

    def __repr__(self):
        return f"jtorch.ops.{self._qualname.replace('::', '.')}"


# aten kernels that torch exposes under no torch.* / F.* name: where jtorch defines each
_ATEN_ONLY = {"_upsample_bilinear2d_aa": "jtorch.nn._functional_conv",
              "_upsample_bicubic2d_aa": "jtorch.nn._functional_conv",
              "_upsample_lanczos2d_aa": "jtorch.nn._functional_conv"}


class _Namespace:
    def __init__(self, ns):
        self._ns = ns

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        q = f"{self._ns}::{name}"
        fn = _REGISTRY.get(q)
        if fn is None and self._ns == "aten":
            import jtorch
            fn = getattr(jtorch, name, None) or getattr(jtorch.nn.functional, name, None)
            if fn is None and name in _ATEN_ONLY:
                import importlib
                fn = getattr(importlib.import_module(_ATEN_ONLY[name]), name)
        if fn is None:
            raise AttributeError(f"'_OpNamespace' '{self._ns}' object has no attribute '{name}'")
        return _OpPacket(q, fn)


class _Ops:
    def __getattr__(self, ns):
        if ns.startswith("__"):
            raise AttributeError(ns)
        return _Namespace(ns)

    def load_library(self, path):
        raise NotImplementedError("jtorch: torch.ops.load_library is not supported: C++/CUDA op libraries cannot run "
                                  "on JAX (see docs/unsupported.md)")


ops = _Ops()
