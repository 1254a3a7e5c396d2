"""Drive jtorch through PyTorch's own ModuleInfo database (torch.testing._internal.common_modules.module_db):
each entry's module inputs come from torch, the torch module's state is copied into the jtorch module of
the same name, and outputs, buffers after the forward, input gradients and parameter gradients are
compared; error inputs must raise torch's exception type. Used by the CI sample
(test_moduleinfo_sample.py) and the full sweep (`python tools/moduleinfo_sweep.py`), whose JSON output
generates a section of docs/compatibility.md. Modelled on opinfo_harness.py (which does this for op_db)."""
import re
import signal

import numpy as np
import torch

import jtorch
from oracle import to_j, to_np, jdtype
from opinfo_harness import _compare, _jconv, _leaves, _leaves_j, _short, _Timeout, _alarm

_module_db = None


def module_db():
    global _module_db
    if _module_db is None:
        from torch.testing._internal.common_modules import module_db as db
        _module_db = db
    return _module_db


def moduleinfo_id(m):
    return m.name


# Why an entry has no jtorch counterpart (shown in docs/compatibility.md).
MISSING_REASONS = {}


def resolve(m):
    """The jtorch module class for a ModuleInfo ('nn.Linear' -> jtorch.nn.Linear), or None."""
    obj = jtorch
    for part in m.name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) else None


def _tol(dtype):
    # A module chains several ops (a Transformer runs dozens), so the tolerance is a little looser
    # than the OpInfo harness's single-op one; float64 stays tight.
    return {torch.float32: (2e-4, 2e-5), torch.float64: (1e-6, 1e-7)}.get(dtype, (0, 0))


def _close(jo, to, path, values, dtype):
    """opinfo_harness._compare with this harness's tolerance for floating tensors."""
    r = _compare(jo, to, path, values=False)
    if r or not values:
        return r
    for a, b, p in _pairs(jo, to, path):
        if isinstance(b, torch.Tensor) and b.is_floating_point():
            rt, at = _tol(b.dtype)
            x, y = to_np(a), to_np(b)
            if x.size and not np.allclose(x, y, rtol=rt, atol=at, equal_nan=True):
                return f"{p}: values differ (max abs err {np.nanmax(np.abs(x - y)):.3g})"
        else:
            r = _compare(a, b, p)
            if r:
                return r
    return None


def _pairs(jo, to, path):
    if isinstance(to, (list, tuple)):
        for i, (a, b) in enumerate(zip(jo, to)):
            yield from _pairs(a, b, f"{path}[{i}]")
    else:
        yield jo, to, path


# --- constructor-argument conversion -------------------------------------------------------------

class _Recorder:
    """Records the constructor arguments of every torch.nn module built while active, so that a torch
    module passed as a constructor argument (TransformerEncoder(encoder_layer, 2)) can be rebuilt as
    the jtorch module of the same class with the same arguments."""

    def __init__(self):
        self.calls = {}
        self._saved = []

    def __enter__(self):
        for name in dir(torch.nn):
            cls = getattr(torch.nn, name)
            if isinstance(cls, type) and issubclass(cls, torch.nn.Module) and "__init__" in cls.__dict__:
                self._saved.append((cls, cls.__dict__["__init__"]))
                cls.__init__ = self._wrap(cls.__dict__["__init__"])
        return self

    def _wrap(self, init):
        calls = self.calls

        def __init__(mod, *args, **kwargs):
            # the first __init__ entered for an instance is its most derived class's
            calls.setdefault(id(mod), (mod, args, kwargs))
            return init(mod, *args, **kwargs)
        return __init__

    def __exit__(self, *exc):
        for cls, init in reversed(self._saved):
            cls.__init__ = init
        self._saved.clear()


def _conv(x, rec, memo, requires_grad):
    """torch values -> jtorch: tensors (one jtorch tensor per torch tensor, so aliasing like MHA's
    query-is-key survives), PackedSequence, torch modules rebuilt from their recorded constructor
    arguments, dtypes and torch functions (via opinfo_harness._jconv)."""
    if isinstance(x, torch.Tensor):
        if id(x) not in memo:
            memo[id(x)] = to_j(x, requires_grad and x.requires_grad)
        return memo[id(x)]
    if isinstance(x, torch.nn.utils.rnn.PackedSequence):
        return jtorch.nn.utils.rnn.PackedSequence(*[_conv(v, rec, memo, requires_grad) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(_conv(v, rec, memo, requires_grad) for v in x)
    if isinstance(x, dict):
        return {k: _conv(v, rec, memo, requires_grad) for k, v in x.items()}
    if isinstance(x, torch.nn.Module) and id(x) in rec.calls:
        _, args, kwargs = rec.calls[id(x)]
        jcls = getattr(jtorch.nn, type(x).__name__)
        jm = jcls(*_conv(args, rec, memo, False), **_conv(kwargs, rec, memo, False))
        jm.load_state_dict({k: to_j(v) for k, v in x.state_dict().items()})
        return jm
    if isinstance(x, torch.device):
        return jtorch.device(str(x))
    if hasattr(x, "__dataclass_fields__") and type(x).__module__.startswith("torch"):
        jcls = getattr(jtorch.nn, type(x).__name__, None)    # option objects (LinearCrossEntropyOptions)
        if jcls is not None:
            return jcls(**{k: _conv(getattr(x, k), rec, memo, False) for k in x.__dataclass_fields__})
    return _jconv(x)


def _flat_t(x):
    if isinstance(x, torch.nn.utils.rnn.PackedSequence):
        return [x.data]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat_t(v)]
    return _leaves(x)


def _flat_j(x):
    if isinstance(x, jtorch.nn.utils.rnn.PackedSequence):
        return [x.data]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat_j(v)]
    return _leaves_j(x)


def _plain(x):
    """PackedSequence -> (data, batch_sizes, sorted_indices, unsorted_indices) for _compare."""
    if isinstance(x, (torch.nn.utils.rnn.PackedSequence, jtorch.nn.utils.rnn.PackedSequence)):
        return tuple(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x) if not hasattr(x, "_fields") else tuple(_plain(v) for v in x)
    return x


def _random(tmod, training):
    """Whether the forward's values are random. Dropout draws from a different stream in jtorch than
    in torch (docs/architecture.md section 7), so a module that drops in training mode (dropout > 0
    in a Transformer / MultiheadAttention / RNN) is compared by shapes and dtypes only. Every
    FractionalMaxPool sample in module_db passes `_random_samples`, which makes it deterministic, so
    those are compared by value; one without would be random too."""
    for mod in tmod.modules():
        if type(mod).__name__.startswith("FractionalMaxPool") and getattr(mod, "_random_samples", 1) is None:
            return True
        if not training:
            continue
        p = getattr(mod, "dropout", None)
        if isinstance(p, float) and p > 0:
            return True
        if isinstance(mod, torch.nn.modules.dropout._DropoutNd) and mod.p > 0:
            return True
    return False


def _samples(m, dtype, training, rec):
    torch.manual_seed(0)
    with rec:
        return list(m.module_inputs_func(m, device="cpu", dtype=dtype, requires_grad=True, training=training))


def _build(m, jcls, mi, dtype, training, rec):
    """(torch module, jtorch module) built from the same constructor input, in dtype and training mode;
    run_sample copies the torch module's state into the jtorch one."""
    memo = {}
    ci = mi.constructor_input
    torch.manual_seed(0)
    tmod = m.module_cls(*ci.args, **ci.kwargs).to(dtype)
    tmod.train(training)
    jmod = jcls(*_conv(ci.args, rec, memo, False), **_conv(ci.kwargs, rec, memo, False)).to(jdtype(dtype))
    jmod.train(training)
    return tmod, jmod


def _lazy(tmod):
    return any(isinstance(p, torch.nn.parameter.UninitializedTensorMixin)
               for p in list(tmod.parameters()) + list(tmod.buffers()))


def _load(jmod, sd):
    tkeys, jkeys = list(sd), list(jmod.state_dict())
    if tkeys != jkeys:
        return f"state_dict keys differ: jtorch {jkeys} != torch {tkeys}"
    jmod.load_state_dict({k: to_j(v, False) for k, v in sd.items()})
    return None


def run_sample(m, jcls, mi, dtype, training, rec, grad=True):
    """Forward (+ backward) of one ModuleInput in one mode. Returns (forward_error, grad_error)."""
    tmod, jmod = _build(m, jcls, mi, dtype, training, rec)
    fi = mi.forward_input
    lazy = _lazy(tmod)
    sd = None if lazy else {k: v.detach().clone() for k, v in tmod.state_dict().items()}
    to = tmod(*fi.args, **fi.kwargs)
    if lazy:   # parameters exist only after the first forward (which changes no state)
        sd = {k: v.detach().clone() for k, v in tmod.state_dict().items()}
    r = _load(jmod, sd)
    if r:
        return r, "n/a"
    memo = {}
    ja, jk = _conv(fi.args, rec, memo, True), _conv(fi.kwargs, rec, memo, True)
    jo = jmod(*ja, **jk)
    values = not _random(tmod, training)
    r = _close(_plain(jo), _plain(to), "out", values, dtype)
    if r:
        return r, "n/a"
    # buffers after the forward (BatchNorm running statistics, num_batches_tracked)
    tb, jb = dict(tmod.named_buffers()), dict(jmod.named_buffers())
    for k, v in tb.items():
        if k not in jb:
            return f"buffer {k}: missing in jtorch", "n/a"
        r = _close(jb[k], v, f"buffer {k}", values, dtype)
        if r:
            return r, "n/a"
    if not grad:
        return None, "n/a"
    return None, _backward(tmod, jmod, fi, to, jo, memo, values, dtype)


def _backward(tmod, jmod, fi, to, jo, memo, values, dtype):
    touts = [t for t in _flat_t(to) if t.requires_grad and t.is_floating_point()]
    if not touts:
        return "n/a"
    jouts = [t for t in _flat_j(jo) if t.requires_grad and t.dtype.is_floating_point]
    if len(jouts) != len(touts):
        return f"{len(jouts)} differentiable outputs != torch {len(touts)}"
    tin = [t for t in _flat_t((fi.args, fi.kwargs)) if t.requires_grad]
    tin = list({id(t): t for t in tin}.values())
    tparams = [(n, p) for n, p in tmod.named_parameters() if p.requires_grad]
    jparams = dict(jmod.named_parameters())
    missing = [n for n, _ in tparams if n not in jparams]
    if missing:
        return f"parameter {missing[0]}: missing in jtorch"
    gen = np.random.default_rng(0)
    cots = [torch.from_numpy(gen.standard_normal(tuple(t.shape))).to(t.dtype) for t in touts]
    wrt_t = tin + [p for _, p in tparams]
    tgrads = torch.autograd.grad(touts, wrt_t, cots, allow_unused=True)
    jin = [memo[id(t)] for t in tin]
    wrt_j = jin + [jparams[n] for n, _ in tparams]
    jgrads = jtorch.autograd.grad(jouts, wrt_j, [to_j(c, False) for c in cots], allow_unused=True)
    names = [f"input[{i}]" for i in range(len(tin))] + [n for n, _ in tparams]
    for name, a, b in zip(names, jgrads, tgrads):
        if b is None:
            if a is not None and to_np(a).any():
                return f"grad {name}: nonzero but torch's is None"
            continue
        if a is None:
            if to_np(b).any():
                return f"grad {name}: None but torch's is nonzero"
            continue
        r = _close(a, b, f"grad {name}", values, dtype)
        if r:
            return r
    return None


def check_errors(m, jcls, dtype=torch.float32):
    """module_error_inputs_func: jtorch must raise torch's exception type, at construction or forward, with a
    message matching the entry's error_regex."""
    from torch.testing._internal.common_modules import ModuleErrorEnum
    if m.module_error_inputs_func is None:
        return "n/a"
    rec = _Recorder()
    torch.manual_seed(0)
    with rec:
        einputs = list(m.module_error_inputs_func(m, device="cpu", dtype=dtype, requires_grad=False, training=True))
    for i, ei in enumerate(einputs):
        mi = ei.module_error_input
        ci, fi = mi.constructor_input, mi.forward_input
        where = "constructor" if ei.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR else "forward"
        try:
            memo = {}
            jm = jcls(*_conv(ci.args, rec, memo, False), **_conv(ci.kwargs, rec, memo, False))
            if where == "forward":
                jm(*_conv(fi.args, rec, memo, False), **_conv(fi.kwargs, rec, memo, False))
        except _Timeout:
            raise
        except Exception as e:  # noqa: BLE001
            if not isinstance(e, ei.error_type):
                return f"fail: error input {i} ({where}): raised {_short(e)}, torch raises {ei.error_type.__name__}"
            if not re.search(ei.error_regex, str(e)):   # the type is what counts; torch's text is checked too
                return f"fail: error input {i} ({where}): message {str(e)[:80]!r} does not match torch's " \
                       f"{ei.error_regex!r}"
            continue
        return f"fail: error input {i} ({where}): no error, torch raises {ei.error_type.__name__}"
    return "pass"


SAMPLE_CAP = 40   # LinearCrossEntropyLoss yields ~860 samples, CrossEntropyLoss ~100: a spread of 40 covers them


def _pick(samples, max_samples=None):
    """(index, sample) pairs: an even spread of at most SAMPLE_CAP samples, then the first max_samples of
    those (so the CI sample checks a subset of what the sweep checked)."""
    step = -(-len(samples) // SAMPLE_CAP) or 1
    sel = list(enumerate(samples))[::step]
    return sel[:max_samples] if max_samples else sel


def _run_dtype(m, jcls, dtype, grad, max_samples):
    """(forward status, grad status) over the entry's samples, in train and (if it differs) eval mode."""
    modes = (True, False) if m.train_and_eval_differ else (True,)
    rec = _Recorder()
    ferr = gerr = None
    tried_grad = False
    for training in modes:
        samples = _samples(m, dtype, training, rec)
        for k, mi in _pick(samples, max_samples):
            if mi.forward_input is None:
                continue
            tag = f"sample {k}{' ' + repr(mi.desc) if mi.desc else ''}, {'train' if training else 'eval'}"
            try:
                f, g = run_sample(m, jcls, mi, dtype, training, rec, grad=grad and gerr is None)
            except _Timeout:
                raise
            except Exception as e:  # noqa: BLE001
                f, g = _short(e), "n/a"
            if f and ferr is None:
                ferr = f"{tag}: {f}"
            if g != "n/a":
                tried_grad = True
                if g and gerr is None:
                    gerr = f"{tag}: {g}"
    fw = "pass" if ferr is None else "fail: " + ferr
    gr = "n/a" if not grad or not tried_grad else ("pass" if gerr is None else "fail: " + gerr)
    return fw, gr


def check_moduleinfo(m, max_samples=None, dtypes=(torch.float32, torch.float64), grad=True, errors=True,
                     timeout=600):
    """{'forward', 'grad', 'float64', 'errors'}: 'pass' / 'missing: why' / 'fail: why' / 'n/a'.
    forward/grad are float32 (every sample, each training mode the entry asks for); float64 is the
    same run in float64, forward and gradient together."""
    res = {"forward": "n/a", "grad": "n/a", "float64": "n/a", "errors": "n/a"}
    jcls = resolve(m)
    if jcls is None:
        why = MISSING_REASONS.get(moduleinfo_id(m), "not implemented yet")
        return {"forward": "missing: " + why, "grad": "missing", "float64": "missing", "errors": "missing"}
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    phase = "forward"   # the column a timeout is reported in
    try:
        if torch.float32 in dtypes and torch.float32 in m.dtypes:
            res["forward"], res["grad"] = _run_dtype(m, jcls, torch.float32, grad, max_samples)
        if torch.float64 in dtypes and torch.float64 in m.dtypes:
            phase = "float64"
            f, g = _run_dtype(m, jcls, torch.float64, grad, max_samples)
            res["float64"] = f if f != "pass" else (g if g not in ("n/a",) else "pass")
        if errors:
            phase = "errors"
            try:
                res["errors"] = check_errors(m, jcls)
            except _Timeout:
                raise
            except Exception as e:  # noqa: BLE001
                res["errors"] = "fail: error-input generation: " + _short(e)
    except _Timeout:
        res[phase] = f"fail: timeout after {timeout}s"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return res
