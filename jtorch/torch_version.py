"""torch.torch_version.TorchVersion: a str that compares as a version (torch.__version__ >= "2.0")."""
import re


def _key(v):
    parts = re.split(r"[.+]", str(v).split("+")[0])
    out = []
    for p in parts:
        m = re.match(r"(\d+)", p)
        out.append(int(m.group(1)) if m else 0)
    return tuple(out)


class TorchVersion(str):
    def _cmp(self, other):
        if isinstance(other, (tuple, list)):
            a, b = _key(self), tuple(other)
        else:
            a, b = _key(self), _key(other)
        n = max(len(a), len(b))
        a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
        return (a > b) - (a < b)

    def __lt__(self, o):
        return self._cmp(o) < 0

    def __le__(self, o):
        return self._cmp(o) <= 0

    def __gt__(self, o):
        return self._cmp(o) > 0

    def __ge__(self, o):
        return self._cmp(o) >= 0

    def __eq__(self, o):
        return self._cmp(o) == 0

    def __ne__(self, o):
        return self._cmp(o) != 0

    __hash__ = str.__hash__


__version__ = TorchVersion("2.13.0+jtorch.0.1")
