"""torch.memory_format and its four values. XLA chooses physical layouts itself, so jtorch accepts these
wherever torch does (contiguous(), .to(), factories) and the logical tensor is the same either way."""


class memory_format:
    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        # Pickle as the module-level singleton, as torch does.
        return self._name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
