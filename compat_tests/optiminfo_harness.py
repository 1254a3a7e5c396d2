"""Drive jtorch.optim through PyTorch's own OptimizerInfo database (torch.testing._internal.common_optimizers).

For every OptimizerInfo and every OptimizerInput its `optim_inputs_func('cpu', dtype)` gives (plus torch's
"global cliquey" variants: each supported foreach/fused/differentiable flag switched on alone), the same
parameters are built in torch and jtorch, both optimizers take the same steps on the same loss (computed
in each library, `step(closure)`), and after every step the parameters, then the state_dict (state keys,
state tensors with their dtypes, param_groups) are compared. `optim_error_inputs_func` entries must raise
torch's exception type (and match torch's message regex). A torch state_dict, converted, must load into a
fresh jtorch optimizer and continue on torch's trajectory.

Each check returns a record {optim, dtype, desc, kind, status: pass|fail|skip, detail}. Used by
compat_tests/test_optiminfo.py (CI subset) and tools/optiminfo_sweep.py (everything, to JSON).
"""
import copy
import re
import warnings

import numpy as np
import torch
from torch.testing._internal.common_optimizers import OptimizerErrorEnum, optim_db

import jtorch
from oracle import jdtype, to_j

STEPS = 6

_TOL = {"float32": (2e-5, 2e-6), "float64": (1e-9, 1e-11), "complex64": (2e-5, 2e-6)}
# LBFGS's state ('d', 'al', the s/y histories) comes from differences of nearby float32 gradients (steps of
# lr=1e-3): torch's own rounding order alone moves them by ~1e-4 relative, while the parameters agree tightly.
_STATE_LOOSE = {"LBFGS": (1e-3, 1e-3)}
# ... and its 'al' scratch (s.q / y.s) divides by y.s ~ 1e-7 after the first tiny step (lr=1e-3): in float32 both
# libraries' values are cancellation noise (they differ 3x at lr=1e-3), so 'al' is compared in float64 only.
_STATE_SKIP32 = {"LBFGS": ("al",)}


def infos():
    return list(optim_db)


def _param_shapes(info):
    if info.name == "Muon":           # 2D only; one tall, one wide (torch transposes the tall one)
        return [(4, 3), (3, 5)]
    if info.name == "Adafactor":      # vector, matrix and a 3-D tensor (factored over the last two dims)
        return [(4, 3), (3,), (2, 2, 3)]
    return [(4, 3), (3,)]


def make_params(info, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) * 0.5 for s in _param_shapes(info)]


def _targets(shapes, dtype):
    g = torch.Generator().manual_seed(123)
    real = torch.zeros((), dtype=dtype).real.dtype
    return [(torch.randn(*s, generator=g, dtype=dtype), torch.rand(*s, generator=g, dtype=real) + 0.5)
            for s in shapes]


def _loss(P, targets, lib):
    """sum_i w_i |p_i - t_i|^2 + 0.1 sin(Re p_i): smooth, non-quadratic, identical op sequence in both
    libraries (for complex parameters |z|^2 is (z * conj z).real, so the gradient is torch's conjugate one)."""
    total = None
    for p, (t, w) in zip(P, targets):
        d = p - t
        if d.is_complex():
            term = (w * (d * d.conj()).real).sum() + 0.1 * lib.sin(p.real).sum()
        else:
            term = (w * d ** 2).sum() + 0.1 * lib.sin(p).sum()
        total = term if total is None else total + term
    return total


def _groups(params, kwargs):
    """Two param groups, the second overriding lr (halved) and, where the optimizer has it, weight_decay."""
    lr = kwargs.get("lr", None)
    second = {"params": params[1:]}
    if lr is not None:
        second["lr"] = float(lr) * 0.5
    else:
        second["lr"] = 5e-3
    return [{"params": params[:1]}, second]


def to_t(x):
    """jtorch values (recursively) -> torch."""
    if isinstance(x, jtorch.Tensor):
        a = np.asarray((x.detach().float() if x.dtype is jtorch.bfloat16 else x.detach())._value)
        return torch.from_numpy(np.array(a, copy=True))
    if isinstance(x, dict):
        return {k: to_t(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_t(v) for v in x)
    return x


def conv_kwargs(kw):
    """torch kwargs -> jtorch kwargs (Tensor hyperparameters become jtorch Tensors, shapes kept)."""
    out = {}
    for k, v in kw.items():
        if isinstance(v, torch.Tensor):
            out[k] = to_j(v)
        elif isinstance(v, tuple):
            out[k] = tuple(to_j(x) if isinstance(x, torch.Tensor) else x for x in v)
        else:
            out[k] = v
    return out


def configs(info, dtype=torch.float32, cliquey=True):
    """[(desc, kwargs)]: optim_inputs_func's configs, each with every supported global-cliquey flag off, then
    each flag on alone (torch's _get_optim_inputs_including_global_cliquey_kwargs, foreach included on cpu)."""
    impls = [f for f in info.supported_impls if f != "fused" or "cpu" in info.supports_fused_on]
    out = []
    for oi in info.optim_inputs_func(device="cpu", dtype=dtype):
        base = copy.deepcopy(oi.kwargs)
        if not cliquey or not impls:
            out.append((oi.desc, base))
            continue
        for f in impls:
            base[f] = False
        out.append((oi.desc, base))
        for f in impls:
            kw = dict(base)
            kw[f] = True
            out.append((f"{oi.desc} & {f}", kw))
    return out


def _rec(info, dtype, desc, kind, status, detail=""):
    return {"optim": info.name, "dtype": str(dtype).replace("torch.", ""), "desc": desc, "kind": kind,
            "status": status, "detail": str(detail)[:400]}


def _jcls(info):
    return getattr(jtorch.optim, info.name, None)


def _closure(opt, P, targets, lib):
    def closure():
        opt.zero_grad()
        loss = _loss(P, targets, lib)
        loss.backward()
        return loss
    return closure


def _cmp_tensor(j, t, rtol, atol, where):
    if not isinstance(j, jtorch.Tensor):
        raise AssertionError(f"{where}: expected a Tensor, got {type(j).__name__}")
    if tuple(j.shape) != tuple(t.shape):
        raise AssertionError(f"{where}: shape {tuple(j.shape)} != torch {tuple(t.shape)}")
    if j.dtype is not jdtype(t.dtype):
        raise AssertionError(f"{where}: dtype {j.dtype} != torch {t.dtype}")
    a = to_t(j).numpy()
    b = (t.detach().float() if t.dtype == torch.bfloat16 else t.detach()).numpy()
    scale = float(np.abs(b).max()) if b.size else 0.0
    if not np.allclose(a, b, rtol=rtol, atol=atol * max(scale, 1.0), equal_nan=True):
        err = np.abs(a - b).max() if a.size else 0
        raise AssertionError(f"{where}: max abs diff {err:.3g}")


def _cmp_value(j, t, rtol, atol, where):
    if isinstance(t, torch.Tensor):
        _cmp_tensor(j, t, rtol, atol, where)
    elif isinstance(t, dict):
        if not isinstance(j, dict) or set(j) != set(t):
            raise AssertionError(f"{where}: keys {sorted(map(str, j)) if isinstance(j, dict) else j} != torch "
                                 f"{sorted(map(str, t))}")
        for k in t:
            _cmp_value(j[k], t[k], rtol, atol, f"{where}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        if not isinstance(j, (list, tuple)) or len(j) != len(t):
            raise AssertionError(f"{where}: {type(j).__name__} of {len(j) if hasattr(j, '__len__') else '?'} != "
                                 f"torch {type(t).__name__} of {len(t)}")
        for i, (a, b) in enumerate(zip(j, t)):
            _cmp_value(a, b, rtol, atol, f"{where}[{i}]")
    elif isinstance(t, float) and not isinstance(j, jtorch.Tensor):
        if not np.isclose(j, t, rtol=rtol, atol=atol, equal_nan=True):
            raise AssertionError(f"{where}: {j!r} != torch {t!r}")
    elif j != t:
        raise AssertionError(f"{where}: {j!r} != torch {t!r}")


def compare_state_dicts(jsd, tsd, rtol, atol, skip=()):
    if skip:
        def drop(st):
            return {i: {k: v for k, v in s.items() if k not in skip} for i, s in st.items()}
        jsd, tsd = {**jsd, "state": drop(jsd["state"])}, {**tsd, "state": drop(tsd["state"])}
    _cmp_value(jsd["state"], tsd["state"], rtol, atol, "state")
    if len(jsd["param_groups"]) != len(tsd["param_groups"]):
        raise AssertionError("param_groups: different number of groups")
    for i, (jg, tg) in enumerate(zip(jsd["param_groups"], tsd["param_groups"])):
        if set(jg) != set(tg):
            raise AssertionError(f"param_groups[{i}] keys: jtorch-only {sorted(set(jg) - set(tg))}, "
                                 f"torch-only {sorted(set(tg) - set(jg))}")
        _cmp_value(jg, tg, rtol, atol, f"param_groups[{i}]")


def _run_outcome(fn):
    """(exception or None, result)."""
    try:
        return None, fn()
    except Exception as e:  # noqa: BLE001 - the type is what gets compared
        return e, None


def _state_skip(info, dtype):
    return _STATE_SKIP32.get(info.name, ()) if dtype in (torch.float32, torch.complex64) else ()


def _tols(info, dtype, state=False):
    rtol, atol = _TOL[str(dtype).replace("torch.", "")]
    if state and info.name in _STATE_LOOSE:
        lr, la = _STATE_LOOSE[info.name]
        rtol, atol = max(rtol, lr), max(atol, la)
    return rtol, atol


# (optimizer, kind, desc) -> why jtorch and torch part there; reported as "known", not "fail"
KNOWN = {
    ("LBFGS", "complex", "strong_wolfe"):
        "float32 rounding: the first step size 1/|g|_1 differs by one ulp (reduction order), so the line "
        "search's tolerance_change stop fires one evaluation later; both converge to the same point (6e-8)",
    # since the complex update is written through view_as_real(p) exactly as torch does, the rounding
    # of the later curvature pairs differs: near convergence ys -> 0 and ro = 1/ys amplifies it
    ("LBFGS", "complex", "default"):
        "float32 rounding amplified near convergence: ro = 1/(y.s) of the last curvature pairs, where y.s is "
        "~1e-5, differs (the parameters still agree to ~1e-5)",
    ("LBFGS", "complex", "tolerance_grad"):
        "float32 rounding amplified near convergence: ro = 1/(y.s) of the last curvature pairs, where y.s is "
        "~1e-5, differs (the parameters still agree to ~1e-5)",
}


def check_config(info, desc, kwargs, dtype=torch.float32, steps=STEPS, check_load=False, groups=False,
                 kind="config"):
    """Same params, same kwargs, `steps` steps in torch and jtorch; compare after every step. groups=True
    splits the parameters into two param groups (the second with its own lr)."""
    r = _check_config(info, desc, kwargs, dtype, steps, check_load, groups, kind)
    why = KNOWN.get((info.name, kind, desc))
    if r["status"] == "fail" and why:
        r["status"], r["detail"] = "known", f"{why} | {r['detail']}"
    return r


def _check_config(info, desc, kwargs, dtype, steps, check_load, groups, kind):
    jc = _jcls(info)
    if jc is None:
        return _rec(info, dtype, desc, kind, "fail", f"jtorch.optim has no {info.name}")
    rtol, atol = _tols(info, dtype)
    srtol, satol = _tols(info, dtype, state=True)
    init = make_params(info, dtype)
    targets = _targets([tuple(p.shape) for p in init], dtype)
    jtargets = [(to_j(t), to_j(w)) for t, w in targets]
    tp = [p.clone().requires_grad_() for p in init]
    jp = [to_j(p).requires_grad_() for p in init]
    targ_t, targ_j = (_groups(tp, kwargs), _groups(jp, kwargs)) if groups else (tp, jp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        terr, to = _run_outcome(lambda: info.optim_cls(targ_t, **kwargs))
        jerr, jo = _run_outcome(lambda: jc(targ_j, **conv_kwargs(kwargs)))
    rec = _rec(info, dtype, desc, kind, "pass")
    try:
        if terr is not None or jerr is not None:
            _same_error(jerr, terr, "constructor")
            rec["detail"] = f"both raise {type(terr).__name__}"
            return rec
        tcl, jcl = _closure(to, tp, targets, torch), _closure(jo, jp, jtargets, jtorch)
        for i in range(steps):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                terr, tl = _run_outcome(lambda: to.step(tcl))
                jerr, jl = _run_outcome(lambda: jo.step(jcl))
            if terr is not None or jerr is not None:
                _same_error(jerr, terr, f"step {i}")
                rec["detail"] = f"both raise {type(terr).__name__} at step {i}"
                return rec
            _cmp_tensor(jl.detach(), tl.detach(), rtol, atol, f"step {i} loss returned by step(closure)")
            for k, (a, b) in enumerate(zip(jp, tp)):
                _cmp_tensor(a.detach(), b.detach(), rtol, atol, f"step {i} param {k}")
        compare_state_dicts(jo.state_dict(), to.state_dict(), srtol, satol, _state_skip(info, dtype))
        if check_load:
            _check_load(info, jc, kwargs, tp, to, targets, dtype, rtol, atol, srtol, satol)
    except AssertionError as e:
        return _rec(info, dtype, desc, kind, "fail", e)
    except Exception as e:  # noqa: BLE001 - an unexpected jtorch error is a failure, reported by type
        return _rec(info, dtype, desc, kind, "fail", f"{type(e).__name__}: {e}")
    return rec


def _check_load(info, jc, kwargs, tp, to, targets, dtype, rtol, atol, srtol, satol, more=3):
    """torch's state_dict (converted) loads into a fresh jtorch optimizer; a fresh torch optimizer loads the
    original (load_state_dict casts floating state to the parameter dtype, so the loaded state is compared with
    torch's loaded state), and both continue on the same trajectory."""
    tsd = to.state_dict()
    tp2 = [p.detach().clone().requires_grad_() for p in tp]
    jp = [to_j(p.detach()).requires_grad_() for p in tp]
    grouped = len(to.param_groups) > 1
    to2 = info.optim_cls(_groups(tp2, kwargs) if grouped else tp2, **kwargs)
    jo = jc(_groups(jp, kwargs) if grouped else jp, **conv_kwargs(kwargs))
    jo.load_state_dict(to_j(copy.deepcopy(tsd)))
    to2.load_state_dict(tsd)
    compare_state_dicts(jo.state_dict(), to2.state_dict(), srtol, satol, _state_skip(info, dtype))
    jtargets = [(to_j(t), to_j(w)) for t, w in targets]
    tcl, jcl = _closure(to2, tp2, targets, torch), _closure(jo, jp, jtargets, jtorch)
    for i in range(more):
        to2.step(tcl)
        jo.step(jcl)
        for k, (a, b) in enumerate(zip(jp, tp2)):
            _cmp_tensor(a.detach(), b.detach(), rtol, atol, f"after load_state_dict, step {i} param {k}")
    compare_state_dicts(jo.state_dict(), to2.state_dict(), srtol, satol, _state_skip(info, dtype))


def _same_error(jerr, terr, where):
    if terr is None:
        raise AssertionError(f"{where}: jtorch raised {type(jerr).__name__}: {jerr}; torch did not")
    if jerr is None:
        raise AssertionError(f"{where}: torch raised {type(terr).__name__}: {terr}; jtorch did not")
    if type(jerr) is not type(terr) and not isinstance(jerr, type(terr)):
        raise AssertionError(f"{where}: jtorch raised {type(jerr).__name__}: {jerr}; torch "
                             f"{type(terr).__name__}: {terr}")


# ------------------------------------------------------------------------------------------- error inputs
class _Unconvertible(Exception):
    pass


def _conv_param(x, memo=None):
    """torch params (tensors, (name, tensor) tuples, dicts, lists) -> jtorch; one jtorch tensor per torch tensor,
    so a parameter given twice stays the same object (the duplicate-parameter checks depend on it)."""
    memo = {} if memo is None else memo
    if isinstance(x, torch.Tensor):
        if id(x) in memo:
            return memo[id(x)]
        if x.layout != torch.strided:
            raise _Unconvertible(f"{x.layout} parameter")
        j = to_j(x.detach())
        if x.requires_grad:
            j.requires_grad_()
        if x.grad is not None:
            j.grad = to_j(x.grad)
        memo[id(x)] = j
        return j
    if isinstance(x, dict):
        return {k: _conv_param(v, memo) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_conv_param(v, memo) for v in x)
    return x


def error_inputs(info, dtype=torch.float32):
    if info.optim_error_inputs_func is None:
        return []
    return list(info.optim_error_inputs_func(device="cpu", dtype=dtype))


def check_error_input(info, ei, dtype=torch.float32):
    oi = ei.optimizer_error_input
    desc = oi.desc
    jc = _jcls(info)
    if jc is None:
        return _rec(info, dtype, desc, "error", "fail", f"jtorch.optim has no {info.name}")
    if oi.params is None:
        tparams = [torch.nn.Parameter(p) for p in make_params(info, dtype)]
    else:
        tparams = oi.params
    try:
        jparams = _conv_param(tparams)
        jkw = conv_kwargs(oi.kwargs)
    except _Unconvertible as e:
        return _rec(info, dtype, desc, "error", "skip", f"cannot build in jtorch: {e}")
    is_warning = isinstance(ei.error_type, type) and issubclass(ei.error_type, Warning)

    def run(cls, params, kw):
        o = cls(params, **kw)
        if ei.error_on == OptimizerErrorEnum.STEP_ERROR:
            o.step()
        return o

    try:
        if is_warning:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                run(jc, jparams, jkw)
            hits = [x for x in w if issubclass(x.category, ei.error_type) and re.search(ei.error_regex,
                                                                                          str(x.message))]
            if not hits:
                raise AssertionError(f"no {ei.error_type.__name__} matching {ei.error_regex!r}; got "
                                     f"{[str(x.message)[:80] for x in w]}")
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                jerr, _ = _run_outcome(lambda: run(jc, jparams, jkw))
            if jerr is None:
                raise AssertionError(f"expected {ei.error_type.__name__}, nothing raised")
            if type(jerr) is not ei.error_type:
                raise AssertionError(f"raised {type(jerr).__name__}: {jerr}; torch raises {ei.error_type.__name__}")
            if not re.search(ei.error_regex, str(jerr)):
                raise AssertionError(f"message {str(jerr)!r} does not match torch's {ei.error_regex!r}")
    except AssertionError as e:
        return _rec(info, dtype, desc, "error", "fail", e)
    return _rec(info, dtype, desc, "error", "pass")


# ------------------------------------------------------------------------------------------- flag probes
_FLAGS = ("foreach", "fused", "capturable", "differentiable")
# flags where jtorch deliberately differs from torch on CPU (see docs/optim.md)
INTENDED = {}


def flag_probes(info):
    return list(_FLAGS)


def check_flag(info, flag, dtype=torch.float32):
    """flag=True alone on CPU: torch's outcome (runs, or raises which type: a TypeError where torch's constructor
    has no such argument) and, when it runs, its math."""
    r = check_config(info, f"{flag}=True (cpu probe)", {flag: True}, dtype, steps=2, kind="flag")
    if r["status"] == "fail" and flag in INTENDED:
        r["status"] = "intended"
        r["detail"] = INTENDED[flag] + " | " + r["detail"]
    return r


def check_complex(info, desc, kwargs, dtype=torch.complex64):
    """The config on complex parameters (optimizers with supports_complex: torch steps view_as_real; the others
    must raise torch's error)."""
    return check_config(info, desc, kwargs, dtype, check_load=True, kind="complex")


def check_groups(info, desc, kwargs, dtype=torch.float32):
    """The config with two param groups (the second with its own lr); load_state_dict included."""
    return check_config(info, desc, kwargs, dtype, check_load=True, groups=True, kind="groups")


def run_all(dtypes=(torch.float32, torch.float64), cliquey=True, check_load=True, only=None, log=None):
    out = []
    for info in infos():
        if only and info.name not in only:
            continue
        for dt in dtypes:
            for desc, kw in configs(info, dt, cliquey=cliquey):
                out.append(check_config(info, desc, kw, dt, check_load=check_load))
                if log:
                    log(out[-1])
        for desc, kw in configs(info, torch.float32, cliquey=False):
            rs = [check_groups(info, desc, kw)] if info.supports_param_groups else []
            rs.append(check_complex(info, desc, kw))
            out += rs
            for r in rs if log else ():
                log(r)
        for ei in error_inputs(info):
            out.append(check_error_input(info, ei))
            if log:
                log(out[-1])
        for f in flag_probes(info):
            out.append(check_flag(info, f))
            if log:
                log(out[-1])
    return out
