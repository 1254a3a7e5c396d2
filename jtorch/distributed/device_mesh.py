"""torch.distributed.device_mesh over jax.sharding.Mesh: named mesh axes of JAX devices."""
import numpy as np


class DeviceMesh:
    def __init__(self, device_type, mesh, *, mesh_dim_names=None, _jax_devices=None):
        import jax
        self.device_type = device_type
        self.mesh = np.asarray(mesh)
        self.mesh_dim_names = tuple(mesh_dim_names) if mesh_dim_names else \
            tuple(f"dim{i}" for i in range(self.mesh.ndim))
        devs = _jax_devices if _jax_devices is not None else _devices_for(device_type)
        flat = [devs[i] for i in self.mesh.reshape(-1)]
        self.jax_mesh = jax.sharding.Mesh(np.asarray(flat, dtype=object).reshape(self.mesh.shape),
                                          self.mesh_dim_names)

    @property
    def ndim(self):
        return self.mesh.ndim

    @property
    def shape(self):
        return tuple(self.mesh.shape)

    def size(self, mesh_dim=None):
        return self.mesh.size if mesh_dim is None else self.mesh.shape[mesh_dim]

    def __getitem__(self, names):
        names = (names,) if isinstance(names, str) else tuple(names)
        idx = [self.mesh_dim_names.index(n) for n in names]
        sub = np.moveaxis(self.mesh, idx, range(len(idx)))
        sub = sub.reshape(sub.shape[:len(idx)] + (-1,))[..., 0]
        return DeviceMesh(self.device_type, sub, mesh_dim_names=names)

    def get_group(self, mesh_dim=None):
        from .distributed_c10d import group
        return group.WORLD

    def get_local_rank(self, mesh_dim=None):
        from . import get_rank, is_initialized
        return get_rank() if is_initialized() else 0

    def __repr__(self):
        return f"DeviceMesh('{self.device_type}', {self.mesh.tolist()}, mesh_dim_names={self.mesh_dim_names})"


def _devices_for(device_type):
    import jax
    from .._device import accelerator_devices
    if device_type == "cpu":
        return jax.devices("cpu")
    if device_type == "cuda":
        return list(accelerator_devices())
    return jax.devices()


def init_device_mesh(device_type, mesh_shape, *, mesh_dim_names=None):
    n = int(np.prod(mesh_shape))
    devs = _devices_for(device_type)
    if n > len(devs):
        raise RuntimeError(f"init_device_mesh: mesh {tuple(mesh_shape)} needs {n} devices, but only {len(devs)} "
                           f"{device_type} devices are visible to JAX (on CPU, set "
                           f"XLA_FLAGS=--xla_force_host_platform_device_count={n})")
    return DeviceMesh(device_type, np.arange(n).reshape(mesh_shape), mesh_dim_names=mesh_dim_names)
