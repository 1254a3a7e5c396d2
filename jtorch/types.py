"""torch.types: the typing aliases torch's annotations use."""
from typing import Union, Sequence, IO
import os

import builtins

from ._tensor import Tensor
from ._device import device as _device
from ._dtype import dtype as _dtype  # noqa: F401
from .storage import UntypedStorage as Storage  # noqa: F401

Number = Union[builtins.int, builtins.float, builtins.bool]
Device = Union[_device, str, builtins.int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
_TensorOrTensors = Union[Tensor, Sequence[Tensor]]
IntLikeType = builtins.int
FloatLikeType = builtins.float
BoolLikeType = builtins.bool
