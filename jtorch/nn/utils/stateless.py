"""functional_call: run a module with some parameters/buffers swapped for given tensors."""
import contextlib


__all__ = ["functional_call"]


# jtorch.func's transforms push a set here while they run a function, to learn which closed-over
# parameters functional_call swapped out (those do not connect the result to the eager graph)
SWAPPED_LOG = []


def _split(name):
    prefix, _, attr = name.rpartition(".")
    return prefix, attr


@contextlib.contextmanager
def _reparametrize_module(module, parameters_and_buffers, tie_weights=False, strict=False, stack_weights=False):
    # tied weights: every name of the same tensor follows the one given
    if tie_weights:
        ids = {}
        for n, t in list(module.named_parameters(remove_duplicate=False)) + \
                list(module.named_buffers(remove_duplicate=False)):
            ids.setdefault(id(t), []).append(n)
        extra = {}
        for names in ids.values():
            given = [n for n in names if n in parameters_and_buffers]
            if len(given) > 1:
                vals = [parameters_and_buffers[n] for n in given]
                if any(v is not vals[0] for v in vals[1:]):
                    raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. "
                                     "Consider using tie_weights=False")
            if given:
                for n in names:
                    if n not in parameters_and_buffers:
                        extra[n] = parameters_and_buffers[given[0]]
        parameters_and_buffers = {**parameters_and_buffers, **extra}
    if strict:
        keys = set(n for n, _ in module.named_parameters(remove_duplicate=False)) | \
            set(n for n, _ in module.named_buffers(remove_duplicate=False))
        missing = sorted(keys - set(parameters_and_buffers))
        unexpected = sorted(set(parameters_and_buffers) - keys)
        if missing or unexpected:
            msg = []
            if unexpected:
                msg.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
            if missing:
                msg.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(),
                                                                               "\n\t".join(msg)))
    saved = []
    try:
        for name, value in parameters_and_buffers.items():
            prefix, attr = _split(name)
            sub = module.get_submodule(prefix)
            d = sub.__dict__
            if attr in d.get("_parameters", {}):
                saved.append((sub, "_parameters", attr, d["_parameters"][attr]))
                if SWAPPED_LOG:
                    SWAPPED_LOG[-1].add(id(d["_parameters"][attr]))
                d["_parameters"][attr] = value
            elif attr in d.get("_buffers", {}):
                saved.append((sub, "_buffers", attr, d["_buffers"][attr]))
                d["_buffers"][attr] = value
            else:
                had = attr in d
                saved.append((sub, None, attr, d.get(attr) if had else _MISSING))
                object.__setattr__(sub, attr, value)
        yield
    finally:
        for sub, where, attr, old in reversed(saved):
            if where is None:
                if old is _MISSING:
                    try:
                        object.__delattr__(sub, attr)
                    except AttributeError:
                        pass
                else:
                    object.__setattr__(sub, attr, old)
            else:
                sub.__dict__[where][attr] = old


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    if isinstance(parameter_and_buffer_dicts, dict):
        merged = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in merged:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of functional call is "
                                     "ambiguous")
                merged[k] = v
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, merged, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
