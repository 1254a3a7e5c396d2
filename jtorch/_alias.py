"""Make `import torch` (and every `torch.x.y`) resolve to jtorch, for unmodified scripts."""
import importlib
import importlib.abc
import importlib.util
import sys


class _TorchAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        real = "jtorch" + spec.name[len("torch"):]
        try:
            return importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name == real:
                raise ModuleNotFoundError(
                    f"No module named '{spec.name}' (jtorch has no '{real}' yet: this part of torch is not "
                    f"implemented; see docs/compatibility.md)", name=spec.name) from None
            raise

    def exec_module(self, module):
        pass


_FINDER = _TorchAliasFinder()


def install_as_torch():
    """Alias `torch` to jtorch in this process (for notebooks): `import torch` then gives jtorch."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    import jtorch
    sys.modules["torch"] = jtorch
    for name, mod in list(sys.modules.items()):
        if name.startswith("jtorch.") and mod is not None:
            sys.modules.setdefault("torch" + name[len("jtorch"):], mod)
    return jtorch
