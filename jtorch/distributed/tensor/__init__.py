"""jtorch.distributed.tensor: torch's DTensor names over one global jax.Array with a NamedSharding.

`distribute_tensor(t, mesh, [Shard(0)])` returns a DTensor whose value is the full logical tensor
placed with dim 0 split over mesh dim 0 (`Replicate()` copies it to every device), so ops on it are
ordinary jtorch ops that XLA partitions (their results are plain Tensors, sharded as XLA decides).
In one process there is no "this rank": `to_local()` returns the shard held by the mesh's first
device. `Partial` placements (pending reductions) are not supported: a jax.Array is always reduced.
"""

from ..._tensor import Tensor, wrap
from ..device_mesh import DeviceMesh, init_device_mesh
from .. import _sharding as S


class Placement:
    def is_shard(self, dim=None):
        return False

    def is_replicate(self):
        return False

    def is_partial(self):
        return False


class Shard(Placement):
    def __init__(self, dim):
        self.dim = dim

    def is_shard(self, dim=None):
        return dim is None or dim == self.dim

    def __eq__(self, other):
        return isinstance(other, Shard) and other.dim == self.dim

    def __hash__(self):
        return hash(("Shard", self.dim))

    def __repr__(self):
        return f"Shard(dim={self.dim})"


class Replicate(Placement):
    def is_replicate(self):
        return True

    def __eq__(self, other):
        return isinstance(other, Replicate)

    def __hash__(self):
        return -2

    def __repr__(self):
        return "Replicate()"


class Partial(Placement):
    def __init__(self, reduce_op="sum"):
        self.reduce_op = reduce_op

    def is_partial(self, reduce_op=None):
        return reduce_op is None or reduce_op == self.reduce_op

    def __eq__(self, other):
        return isinstance(other, Partial) and other.reduce_op == self.reduce_op

    def __hash__(self):
        return hash(("Partial", self.reduce_op))

    def __repr__(self):
        return f"Partial({self.reduce_op})"


def _sharding_for(shape, mesh, placements):
    from jax.sharding import NamedSharding, PartitionSpec as P
    jm = mesh.jax_mesh
    spec = [None] * len(shape)
    for axis, pl in zip(jm.axis_names, placements):
        if isinstance(pl, Partial):
            raise NotImplementedError("jtorch.distributed.tensor: Partial placements are not supported")
        if isinstance(pl, Shard):
            d = pl.dim + len(shape) if pl.dim < 0 else pl.dim
            if not 0 <= d < len(shape):
                raise IndexError(f"Shard(dim={pl.dim}) is out of range for a tensor of shape {tuple(shape)}")
            if shape[d] % jm.shape[axis]:
                continue   # uneven: kept whole on every device (same values; XLA needs even shards)
            spec[d] = axis if spec[d] is None else (spec[d] if isinstance(spec[d], tuple) else (spec[d],)) + (axis,)
        elif not isinstance(pl, Replicate):
            raise TypeError(f"expected Shard, Replicate or Partial placements, got {pl!r}")
    while spec and spec[-1] is None:   # P('dp') rather than P('dp', None): the same placement, one spelling
        spec.pop()
    return NamedSharding(jm, P(*spec))


class DTensor(Tensor):
    """A Tensor with a device mesh and placements (torch.distributed.tensor.DTensor)."""

    @property
    def device_mesh(self):
        return self.__dict__["_dt_mesh"]

    @property
    def placements(self):
        return self.__dict__["_dt_placements"]

    def full_tensor(self, *, grad_placements=None):
        return wrap(S.gather(self._value))

    def to_local(self, *, grad_placements=None):
        first = self.device_mesh.jax_mesh.devices.flat[0]
        for s in self._value.addressable_shards:
            if s.device == first:
                return wrap(s.data)
        return wrap(self._value)

    def redistribute(self, device_mesh=None, placements=None, *, async_op=False, forward_dtype=None,
                     backward_dtype=None):
        return distribute_tensor(self, device_mesh or self.device_mesh, placements)

    @staticmethod
    def from_local(local_tensor, device_mesh=None, placements=None, *, run_check=False, shape=None, stride=None):
        """Single process: `local_tensor` is taken as the shard every mesh position holds, so Shard(d)
        tiles it along d and Replicate() keeps it."""
        mesh = device_mesh or init_device_mesh("cpu", (len(S.jax_mesh_of(None).devices.flat),))
        placements = list(placements or [Replicate()] * mesh.ndim)
        from ... import cat
        t = local_tensor
        for axis, pl in zip(mesh.jax_mesh.axis_names, placements):
            if isinstance(pl, Shard):
                t = cat([t] * mesh.jax_mesh.shape[axis], dim=pl.dim)
        return distribute_tensor(t, mesh, placements)

    def __repr__(self):
        return f"DTensor(local_tensor={self.to_local()!r}, device_mesh={self.device_mesh!r}, " \
               f"placements={tuple(self.placements)!r})"


def distribute_tensor(tensor, device_mesh=None, placements=None, *, src_data_rank=0):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"distribute_tensor(): expected a Tensor, got {type(tensor).__name__}")
    if device_mesh is None:
        n = len(S.jax_mesh_of(None, tensor._value).devices.flat)
        device_mesh = init_device_mesh(tensor.device.type, (n,))
    placements = tuple(placements) if placements is not None else (Replicate(),) * device_mesh.ndim
    if len(placements) != device_mesh.ndim:
        raise ValueError(f"`placements` must have the same length as `device_mesh.ndim`! Found placements length: "
                         f"{len(placements)}, and device_mesh.ndim: {device_mesh.ndim}.")
    arr = S.place(tensor._value, _sharding_for(tuple(tensor.shape), device_mesh, placements))
    out = object.__new__(DTensor)
    out._data = arr
    out.__dict__["_dt_mesh"] = device_mesh
    out.__dict__["_dt_placements"] = placements
    if tensor._requires_grad and tensor.grad_fn is None:
        out.requires_grad = True
    return out


__all__ = ["DTensor", "DeviceMesh", "Placement", "Shard", "Replicate", "Partial", "distribute_tensor",
           "init_device_mesh"]
