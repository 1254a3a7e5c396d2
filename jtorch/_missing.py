"""The AttributeError a user meets first when torch has something jtorch lacks: it keeps torch's
type and first words, then says where to look and what to file."""
import difflib


class _MissingAttribute(AttributeError):
    """Builds its message only when shown: `hasattr`/`getattr(mod, name, None)` probes, which
    discard the error, stay cheap (the "Did you mean" search scans the module's names)."""

    # shown in tracebacks as the plain `AttributeError: ...` torch users know
    __module__ = "builtins"
    __qualname__ = "AttributeError"

    def __str__(self):
        module, name = self.obj, self.name
        mod = module.__name__
        msg = f"module '{mod}' has no attribute '{name}'"
        if name.startswith("_"):  # private and dunder probes (pickling, introspection) stay terse
            return msg
        torch_name = "torch" + mod[len("jtorch"):] + "." + name
        close = difflib.get_close_matches(name, [n for n in dir(module) if not n.startswith("_")], n=3)
        hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
        return (msg + f".{hint} If `{torch_name}` exists in PyTorch, jtorch does not implement it yet: see "
                f"docs/compatibility.md for what is covered and the nearest alternatives, and open an issue "
                f"titled \"missing: {torch_name}\" with a minimal script that uses it.")


def missing_attribute(module, name):
    """AttributeError for `module.name` (module: the jtorch module object)."""
    return _MissingAttribute(name=name, obj=module)
