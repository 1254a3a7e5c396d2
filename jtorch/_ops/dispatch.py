"""The per-op hot path: bind arguments, unwrap Tensors, promote dtypes, run the cached kernel,
wrap the results, record the autograd node. Keep this path short: every op pays for it."""
import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, wrap
from ..autograd.grad_mode import STATE
from ..autograd import graph
from .kernel import get_kernel, _KERNELS
from .registry import freeze
from . import autocast_state
from .._foreign import adopt_leaves
from ..autograd.forward_ad import ACTIVE as _FW, push as _fw_push
from .placement import unify_devices

_from_np = D._BY_NP
_scalar_types = (bool, int, float, complex)


def _leaf_dtype(v):
    if isinstance(v, Tensor):
        return _from_np.get(v._value.dtype) or D.from_np(v._value.dtype)
    return D.scalar_dtype(v)


def result_type(leaves, mask):
    """torch.result_type over the operand leaves (Tensors by dimensionality, then Python scalars)."""
    dims = zeros = scal = None
    for v, m in zip(leaves, mask):
        if not m or v is None:
            continue
        if isinstance(v, Tensor):
            a = v._value
            d = _from_np.get(a.dtype) or D.from_np(a.dtype)
            if a.ndim:
                dims = d if dims is None else D.promote_types(dims, d)
            else:
                zeros = d if zeros is None else D.promote_types(zeros, d)
        else:
            d = D.scalar_dtype(v)
            if d is not None:
                scal = d if scal is None else D.promote_types(scal, d)
    return D._combine(dims, D._combine(zeros, scal))


_SIMPLE_STATIC = frozenset([int, float, str, type(None), D.dtype])
_NO_TAG = ()


def call(opdef, args, kwargs):
    fast = opdef._fast
    if fast is not None and not kwargs and autocast_state.ACTIVE[0] is None:
        plan = fast.get(len(args))
        if plan is not None:
            # hot path: positional Tensors / Python scalars / simple static values, the rest defaults
            kinds, stemplate, struct, extra, tag, nones = plan
            st = list(stemplate) if stemplate else stemplate
            arrays = []
            need_grad = False
            sig = [D._default[0]]
            for v, k in zip(args, kinds):
                if k < 0:
                    if isinstance(v, Tensor):
                        a = v._data if v._base is None else v._value
                        arrays.append(a)
                        if v._requires_grad:
                            need_grad = True
                        if k == -1:
                            sig.append(a.dtype)
                            sig.append(a.shape == ())
                    elif type(v) in _scalar_types:
                        arrays.append(v)
                        if k == -1:
                            sig.append(type(v))
                    else:
                        break
                else:
                    t = type(v)
                    if t in _SIMPLE_STATIC:
                        st[k] = v
                    elif t is tuple or t is list:
                        st[k] = freeze(v)
                    else:
                        break
            else:
                if nones:
                    arrays.extend(nones)
                static = tuple(st) if st else ()
                kern = _KERNELS.get((opdef, static, struct, tuple(sig) if opdef.promote is not None else None, None,
                                     tag, extra))
                if kern is not None:
                    if opdef.check is not None:
                        chk = dict(opdef.defaults)
                        chk.update(zip(opdef.params, args))
                        opdef.check(chk)
                    try:
                        res = kern.jfwd(*arrays)
                    except (TypeError, ValueError) as e:
                        res, need_grad = _recover(kern, arrays, opdef, args, e, need_grad)
                    if type(res) is not tuple:
                        o = wrap(res)
                        if need_grad and STATE.enabled and opdef.differentiable:
                            graph.record(kern, arrays, [v for v, k in zip(args, kinds) if k < 0] + list(nones), (o,),
                                         opdef.linear)
                        if _FW[0] is not None:
                            _fw_push(kern.jfwd, arrays, [v for v, k in zip(args, kinds) if k < 0] + list(nones), (o,))
                        if opdef.view:
                            _make_view(o, args[0], (opdef, static, struct, None))
                        return o
                    outs = tuple(wrap(r) for r in res)
                    if need_grad and STATE.enabled and opdef.differentiable:
                        graph.record(kern, arrays, [v for v, k in zip(args, kinds) if k < 0] + list(nones), outs,
                                     opdef.linear, nondiff=opdef.nondiff)
                    if _FW[0] is not None:
                        _fw_push(kern.jfwd, arrays, [v for v, k in zip(args, kinds) if k < 0] + list(nones), outs)
                    if opdef.view:
                        for i, o in enumerate(outs):
                            _make_view(o, args[0], (opdef, static, struct, i))
                    return opdef.returns(*outs) if opdef.returns is not None else outs
    out = None
    if kwargs and "out" in kwargs:
        if not opdef.out:
            raise TypeError(f"{opdef.name}() got an unexpected keyword argument 'out'")
        kwargs = dict(kwargs)
        out = kwargs.pop("out")
        if out is not None and opdef.out == "dtype" and kwargs.get("dtype") is None and "dtype" in opdef._pidx:
            kwargs["dtype"] = out.dtype   # torch reduces in out's dtype
    vals = opdef.bind_list(args, kwargs)
    if opdef.check is not None:
        opdef.check(dict(zip(opdef.params, vals)))
    # static args: hashable, baked into the trace. A bool and an int compare equal (True == 1), so a
    # static bool tags the kernel key (var(x, True) is not var(x, 1)).
    tag = _NO_TAG
    if opdef._sidx:
        st = []
        for i in opdef._sidx:
            v = vals[i]
            t = type(v)
            if t is bool:
                tag = True
            elif t not in _SIMPLE_STATIC:
                v = freeze(v)
            st.append(v)
        static = tuple(st)
        if tag:
            tag = tuple(type(v) is bool for v in static)
    else:
        static = ()
    leaves, struct, opmask = [], [], []
    extra = None
    for i, is_list, dflt, is_op in opdef._dplan:
        v = vals[i]
        if v is dflt and dflt is not None:
            struct.append(-2)                 # the default: a constant of the trace, not a jit argument
            if is_op:
                extra = (extra or []) + [dflt]
            continue
        if type(v) in (list, tuple) and (is_list or not all(isinstance(x, _scalar_types) for x in v)):
            struct.append(len(v))
            leaves.extend(v)
            opmask.extend([is_op] * len(v))
        else:
            struct.append(-1)
            leaves.append(v)
            opmask.append(is_op)
    try:
        res = run(opdef, static, tuple(struct), leaves, opmask, tag, extra)
    except TypeError:
        # a torch.Tensor among the arguments (torchvision output...): adopt it and retry; free until raised
        adopted = adopt_leaves(leaves)
        if adopted is None:
            raise
        res = run(opdef, static, tuple(struct), adopted, opmask, tag, extra)
    if out is not None:
        return _write_out(opdef, res, out)
    return res


def run(opdef, static, struct, leaves, opmask, tag=_NO_TAG, extra=None):
    acast = None
    if autocast_state.ACTIVE[0] is not None:
        # autocast: the dtype float leaves are cast to inside the kernel (None: op not on the lists)
        acast = autocast_state.ACTIVE[0].cast_dtype(opdef, leaves)
    promote = opdef.promote
    # One pass over the leaves: the arrays for jit, whether grad is needed, and the promotion
    # signature (operand dtypes, 0-dim or not, scalar types). The kernel is keyed by the signature
    # itself, so torch.result_type runs only when a new kernel is made.
    arrays = []
    need_grad = False
    if promote is None:
        sig = None
        for v in leaves:
            if isinstance(v, Tensor):
                arrays.append(v._data if v._base is None else v._value)
                if v._requires_grad:
                    need_grad = True
            elif isinstance(v, (list, tuple, np.ndarray)):
                arrays.append(jnp.asarray(v))
            else:
                arrays.append(v)
    else:
        sig = [D._default[0]]
        for v, m in zip(leaves, opmask):
            if isinstance(v, Tensor):
                a = v._data if v._base is None else v._value
                arrays.append(a)
                if v._requires_grad:
                    need_grad = True
                if m:
                    sig.append(a.dtype)
                    sig.append(a.shape == ())
            else:
                if m and v is not None:
                    sig.append(type(v) if type(v) in _scalar_types else D.scalar_dtype(v))
                if isinstance(v, (list, tuple, np.ndarray)):
                    arrays.append(jnp.asarray(v))
                else:
                    arrays.append(v)
        sig = tuple(sig)
    key = (opdef, static, struct, sig, acast, tag, extra and tuple(extra))
    kern = _KERNELS.get(key)
    if kern is None:
        cdtype = None
        if promote is not None:
            if callable(promote):
                promote = promote(static)
            if extra:   # baked operand defaults still take part in type promotion
                cdtype = result_type(leaves + extra, opmask + [True] * len(extra))
            else:
                cdtype = result_type(leaves, opmask)
            if promote == "float" and cdtype is not None and cdtype._cat < 2:
                cdtype = D._default[0]
            if acast is not None and cdtype is not None and cdtype._cat == 2 and cdtype is not D.float64:
                cdtype = acast
        kern = get_kernel(key, lambda: opdef.kernel_fn(static, struct, cdtype, acast), opdef.name)
    try:
        res = kern.jfwd(*arrays)
    except (TypeError, ValueError) as e:
        res, need_grad = _recover(kern, arrays, opdef, leaves, e, need_grad)
    if isinstance(res, tuple):
        outs = tuple(wrap(r) for r in res)
        if need_grad and STATE.enabled and opdef.differentiable:
            graph.record(kern, arrays, leaves, outs, opdef.linear, nondiff=opdef.nondiff)
        if _FW[0] is not None:
            _fw_push(kern.jfwd, arrays, leaves, outs)
        if opdef.view:
            for i, o in enumerate(outs):
                _make_view(o, leaves[0], (opdef, static, struct, i))
        return opdef.returns(*outs) if opdef.returns is not None else outs
    o = wrap(res)
    if need_grad and STATE.enabled and opdef.differentiable:
        graph.record(kern, arrays, leaves, (o,), opdef.linear)
    if _FW[0] is not None:
        _fw_push(kern.jfwd, arrays, leaves, (o,))
    if opdef.view:
        _make_view(o, leaves[0], (opdef, static, struct, None))
    return o


def _recover(kern, arrays, opdef, leaves, e, need_grad):
    """The kernel refused its arguments (only failures come here, off the hot path): a sharded
    tensor met a single-device one (re-place and rerun), meta tensors (shapes only, no graph),
    or torch's error. Returns (result, whether to record autograd)."""
    if unify_devices(arrays):
        return kern.jfwd(*arrays), need_grad
    return _meta_or_error(kern, arrays, opdef, leaves, e), False


def _meta_or_error(kern, arrays, opdef, leaves, e):
    """The kernel refused its arguments. Meta tensors (jax.ShapeDtypeStruct values) are expected to:
    their op runs through jax.eval_shape, giving shapes and dtypes without data (no autograd graph).
    Anything else becomes torch's error. Kept off the hot path: only failures come here."""
    if getattr(e, "_jtorch", False):
        raise e
    if any(type(a) is _SDS for a in arrays):
        for a in arrays:
            if isinstance(a, jax.Array) and a.ndim:
                raise RuntimeError(f"Tensor on device {next(iter(a.devices())).platform} is not on the expected "
                                   f"device meta!")
        return jax.eval_shape(kern.jfwd, *arrays)
    raise translate_error(opdef, leaves, e) from None


_SDS = jax.ShapeDtypeStruct


def _make_view(o, src, step):
    if step[0].view is not True and not step[0].view(src, o):
        return   # reshape/flatten where torch copies: o is a new tensor, writes to it stay there
    base = src._base if src._base is not None else src
    o._base = base
    o._vchain = (src._vchain + (step,)) if src._base is not None else (step,)
    vc = base._vc
    if vc is None:
        vc = base._vc = [0]
    o._vc = vc
    o._synced = vc[0]
    # a view of x.data (x.data[i].zero_()) shares the base's storage, not its graph
    o._view_grad = STATE.enabled and not src._data_alias
    if src._data_alias:   # a view of x.data writes silently too
        o._data_alias = True


def _write_out(opdef, res, out):
    """torch's out= rules: the result is cast into out's dtype when torch.can_cast allows it (for
    "exact" ops the dtypes must match), out is resized to the result's shape (with torch's
    warning when it had elements), and out itself is returned."""
    name = opdef.name
    if isinstance(res, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError(f"{name}(): argument 'out' must be tuple of {len(res)} Tensors")
        for r, o in zip(res, out):
            _check_out(opdef, r, o)
        for r, o in zip(res, out):
            o._set_from_out(r, name)
        return opdef.returns(*out) if opdef.returns is not None else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    _check_out(opdef, res, out)
    return out._set_from_out(res, name)


_C10_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
              "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _check_out(opdef, res, out):
    if opdef.out == "exact" and res.dtype is not out.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {_C10_NAMES.get(res.dtype.name, res.dtype.name)}, "
                           f"but got {_C10_NAMES.get(out.dtype.name, out.dtype.name)} instead")


def translate_error(opdef, leaves, e):
    """Turn a JAX error into torch's error type with a message naming the shapes."""
    shapes = [tuple(v.shape) for v in leaves if isinstance(v, Tensor)]
    msg = str(e).split("\n")[0]
    if "Error interpreting argument" in msg or "is not a valid JAX type" in msg:
        from .util import TorchTypeError
        bad = next((type(v).__name__ for v in leaves if v is not None and not isinstance(v, (Tensor, bool, int, float,
                                                                                             complex))), "object")
        return TorchTypeError(f"{opdef.name}(): argument of type {bad} is not a Tensor or a number")
    if "does not accept dtype" in msg or "not inexact" in msg or "Unsupported input type" in msg or \
            "complex-valued" in msg or "not well defined for complex" in msg:
        # jax has no kernel for this dtype: torch says NotImplementedError ("sin_cpu" not implemented for 'Bool')
        from .util import not_implemented
        dts = [v._value.dtype for v in leaves if isinstance(v, Tensor)]
        return not_implemented(opdef.name.lstrip("_"), dts[0] if dts else "float32")
    if "broadcast" in msg.lower() or "incompatible shapes" in msg.lower():
        if len(shapes) >= 2:
            a, b = shapes[0], shapes[1]
            n = max(len(a), len(b))
            pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
            for i in range(n - 1, -1, -1):
                if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                    return RuntimeError(f"The size of tensor a ({pa[i]}) must match the size of tensor b "
                                        f"({pb[i]}) at non-singleton dimension {i}")
    return RuntimeError(f"{opdef.name}(): {msg} (input shapes: {', '.join(map(str, shapes)) or 'none'})")


def run_kernel_recorded(kern, items):
    """Run a kernel on a mix of Tensors and arrays, recording a node when a Tensor needs grad.
    Used for internal kernels (view writes, create_graph backward). Returns a Tensor or a list."""
    arrays = [v._value if isinstance(v, Tensor) else v for v in items]
    if any(type(a) is _SDS for a in arrays):
        res = jax.eval_shape(kern.jfwd, *arrays)
        multi = isinstance(res, tuple)
        outs = tuple(wrap(r) for r in res) if multi else (wrap(res),)
        return list(outs) if multi else outs[0]
    res = kern.jfwd(*arrays)
    need = STATE.enabled and any(isinstance(v, Tensor) and v._requires_grad for v in items)
    multi = isinstance(res, tuple)
    outs = tuple(wrap(r) for r in res) if multi else (wrap(res),)
    if need:  # view reads and view scatters: linear, so no saved-version check (torch's CopySlices)
        graph.record(kern, arrays, items, outs, True)
    return list(outs) if multi else outs[0]
