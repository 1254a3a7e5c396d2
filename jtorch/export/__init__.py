"""jtorch.export: a module or function exported to a serialized StableHLO program (jax.export).

    ep = jtorch.export.export(model, (x,))
    ep(x2)                                  # run it (params baked in as constants)
    blob = ep.serialize(); ep2 = jtorch.export.deserialize(blob)
    print(ep.mlir_module()[:200])           # the StableHLO text
"""
import jax


class ExportedProgram:
    def __init__(self, exported, out_tree):
        self._exported = exported
        self._out_tree = out_tree

    def __call__(self, *args):
        from .._tensor import Tensor, wrap
        arrays = [a._value if isinstance(a, Tensor) else a for a in args]
        out = self._exported.call(*arrays)
        return jax.tree_util.tree_map(wrap, out)

    def module(self):
        return self

    def mlir_module(self):
        return self._exported.mlir_module()

    def serialize(self):
        return self._exported.serialize()

    @property
    def in_avals(self):
        return self._exported.in_avals


def export(mod, args, kwargs=None, *, dynamic_shapes=None, strict=False, preserve_module_call_signature=()):
    from .._tensor import Tensor, wrap
    from ..autograd.grad_mode import no_grad
    kwargs = kwargs or {}

    def fn(*arrays):
        with no_grad():
            out = mod(*[wrap(a) for a in arrays], **kwargs)
        return jax.tree_util.tree_map(lambda t: t._value if isinstance(t, Tensor) else t, out,
                                      is_leaf=lambda t: isinstance(t, Tensor))
    arrays = [a._value if isinstance(a, Tensor) else a for a in args]
    exp = jax.export.export(jax.jit(fn))(*[jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays])
    return ExportedProgram(exp, None)


def deserialize(blob):
    return ExportedProgram(jax.export.deserialize(blob), None)


def save(ep, f):
    data = ep.serialize()
    if hasattr(f, "write"):
        f.write(data)
    else:
        open(f, "wb").write(data)


def load(f):
    data = f.read() if hasattr(f, "read") else open(f, "rb").read()
    return deserialize(bytearray(data))
