"""The AttributeError a user meets first when torch has something jtorch lacks: it keeps torch's
type and first words, then says where to look and what to file."""
import difflib


def missing_attribute(module, name):
    """AttributeError for `module.name` (module: the jtorch module object)."""
    mod = module.__name__
    msg = f"module '{mod}' has no attribute '{name}'"
    if not name.startswith("_"):  # private and dunder probes (hasattr, pickling) stay terse
        torch_name = "torch" + mod[len("jtorch"):] + "." + name
        close = difflib.get_close_matches(name, [n for n in dir(module) if not n.startswith("_")], n=3)
        hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
        msg += (f".{hint} If `{torch_name}` exists in PyTorch, jtorch does not implement it yet: see "
                f"docs/compatibility.md for what is covered and the nearest alternatives, and open an issue titled "
                f"\"missing: {torch_name}\" with a minimal script that uses it.")
    return AttributeError(msg, name=name, obj=module)
