"""torch.autocast on jtorch's dispatcher.

Inside an autocast region every op looks up its name in torch's per-device op lists: "lower"
ops (matmul, linear, conv, attention ...) run in the autocast dtype, "fp32" ops (softmax on
CUDA, losses, norms, exp/log/pow on CUDA ...) in float32, "promote" ops in the widest float
dtype of their inputs; other ops run in whatever dtype their inputs have. The cast happens inside
the op's jitted kernel, so it costs nothing extra at run time and gradients flow back in the
parameters' own dtype. float64 inputs are never cast, as in torch.
"""
import functools

from .. import _dtype as D
from .._ops import autocast_state

# torch 2.x autocast op lists (by jtorch/torch op name).
_LOWER_CUDA = {
    "matmul", "mm", "bmm", "baddbmm", "addmm", "addbmm", "addmv", "addr", "mv", "linear", "bilinear_never",
    "chain_matmul", "multi_dot", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "conv_tbc", "prelu", "scaled_dot_product_attention", "lstm_cell", "gru_cell",
    "rnn_tanh_cell", "rnn_relu_cell", "_lstm_layer", "_gru_layer", "_rnn_layer",
    # in ATen's lower-precision list (autocast_mode.h), shared by CUDA and CPU, though not in the docs table
    "einsum", "linalg_multi_dot", "linalg_vecdot",
}
_FP32_CUDA = {
    "pow", "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal",
    "rsqrt", "sinh", "tan", "softplus", "layer_norm", "group_norm", "norm", "cosine_similarity", "poisson_nll_loss",
    "cosine_embedding_loss", "nll_loss", "nll_loss2d", "hinge_embedding_loss", "kl_div", "l1_loss",
    "smooth_l1_loss", "huber_loss", "mse_loss", "margin_ranking_loss", "multilabel_margin_loss",
    "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "binary_cross_entropy_with_logits", "dist",
    "pdist", "cdist", "renorm", "logsumexp", "softmax", "log_softmax", "softmin", "cross_entropy", "cumprod",
    "cumsum", "prod", "sum", "normalize", "_normalize", "rms_norm", "batch_norm_never",
    "linalg_vector_norm", "linalg_matrix_norm",  # fp32_set_opt_dtype in ATen: float32 output
}
_PROMOTE = {"addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sample", "index_put", "scatter_add",
            "tensordot", "cat", "stack", "vdot"}
_LOWER_CPU = {
    "conv1d", "conv2d", "conv3d", "bmm", "mm", "linalg_vecdot", "baddbmm", "addmm", "addbmm", "linear", "matmul",
    "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu", "scaled_dot_product_attention",
    "_lstm_layer", "_gru_layer", "_rnn_layer", "einsum", "linalg_multi_dot", "chain_matmul",
    # composite in ATen (they call mm under autocast), so CPU autocast runs them in the lower dtype
    "tensordot", "inner",
}
_FP32_CPU = {
    "avg_pool3d", "binary_cross_entropy", "grid_sample", "polar", "prod", "quantile", "nanquantile", "stft", "cdist",
    "trace", "view_as_complex", "cholesky", "cholesky_inverse", "cholesky_solve", "inverse", "lu_solve", "orgqr",
    "ormqr", "pinverse", "max_pool3d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d", "reflection_pad1d",
    "reflection_pad2d", "replication_pad1d", "replication_pad2d", "replication_pad3d", "mse_loss",
    "cosine_embedding_loss", "nll_loss", "nll_loss2d", "hinge_embedding_loss", "poisson_nll_loss", "smooth_l1_loss",
    "cross_entropy", "l1_loss", "huber_loss", "margin_ranking_loss", "soft_margin_loss", "triplet_margin_loss",
    "multi_margin_loss", "ctc_loss", "kl_div", "multilabel_margin_loss", "binary_cross_entropy_with_logits",
    "fft_fft", "fft_ifft", "fft_fft2", "fft_ifft2", "fft_fftn", "fft_ifftn", "fft_rfft", "fft_irfft", "fft_rfft2",
    "fft_irfft2", "fft_rfftn", "fft_irfftn", "fft_hfft", "fft_ihfft", "linalg_cond", "linalg_matrix_rank",
    "linalg_solve", "linalg_cholesky", "linalg_svdvals", "linalg_eigvals", "linalg_eigvalsh", "linalg_inv",
    "linalg_householder_product", "linalg_tensorinv", "linalg_tensorsolve", "fake_quantize_per_tensor_affine",
    "geqrf", "_lu_with_info", "qr", "svd", "triangular_solve", "fractional_max_pool2d", "fractional_max_pool3d",
    "adaptive_max_pool3d", "multilabel_margin_loss_forward", "linalg_qr", "linalg_cholesky_ex", "linalg_svd",
    "linalg_eig", "linalg_eigh", "linalg_lstsq", "linalg_inv_ex",
}
TABLES = {
    "cuda": ({n: "lower" for n in _LOWER_CUDA} | {n: "fp32" for n in _FP32_CUDA} | {n: "promote" for n in _PROMOTE}),
    "cpu": ({n: "promote" for n in _PROMOTE} | {n: "lower" for n in _LOWER_CPU} | {n: "fp32" for n in _FP32_CPU}),
}
TABLES["xla"] = TABLES["tpu"] = TABLES["cuda"]
DEFAULT_DTYPE = {"cuda": D.float16, "cpu": D.bfloat16, "xla": D.bfloat16, "tpu": D.bfloat16, "mps": D.float16}
_CASTABLE = (D.float16, D.bfloat16, D.float32)


class _Active:
    """The dispatcher's view of the innermost enabled autocast region."""
    __slots__ = ("device_type", "dtype", "table", "_cache")

    def __init__(self, device_type, dtype):
        self.device_type, self.dtype = device_type, dtype
        self.table = TABLES.get(device_type, TABLES["cuda"])

    def cast_dtype(self, opdef, leaves):
        cat = self.table.get(opdef.name)
        if cat is None:
            return None
        if cat == "lower":
            return self.dtype
        if cat == "fp32":
            return D.float32
        widest = None
        for v in leaves:
            dt = getattr(v, "dtype", None)
            if isinstance(dt, D.dtype) and dt in _CASTABLE:
                widest = dt if widest is None else D.promote_types(widest, dt)
        return widest


_stack = []  # (device_type -> dtype/enabled) per region, for is_autocast_enabled and nesting


def _canon(device_type):
    if device_type is None:
        return "cuda"
    t = str(device_type).split(":")[0]
    return {"gpu": "cuda"}.get(t, t)


class autocast:
    """torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type = _canon(device_type)
        if self.device_type not in DEFAULT_DTYPE:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.fast_dtype = D.to_dtype(dtype) if dtype is not None else get_autocast_dtype(self.device_type)
        self._enabled = bool(enabled)
        if self._enabled and self.device_type == "cpu" and self.fast_dtype not in (D.bfloat16, D.float16):
            import warnings
            warnings.warn(f"In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast "
                          f"only supports dtype of torch.bfloat16, torch.float16 currently.")
            self._enabled = False
        self.cache_enabled = cache_enabled

    def __enter__(self):
        self._prev = autocast_state.ACTIVE[0]
        _stack.append((self.device_type, self._enabled, self.fast_dtype))
        if self._enabled:
            autocast_state.ACTIVE[0] = _Active(self.device_type, self.fast_dtype)
        elif self._prev is not None and self._prev.device_type == self.device_type:
            autocast_state.ACTIVE[0] = None
        return self

    def __exit__(self, *exc):
        _stack.pop()
        autocast_state.ACTIVE[0] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with autocast(self.device_type, self.fast_dtype, self._enabled, self.cache_enabled):
                return fn(*a, **k)
        return wrapper


_default_dtypes = dict(DEFAULT_DTYPE)


def get_autocast_dtype(device_type):
    return _default_dtypes[_canon(device_type)]


def set_autocast_dtype(device_type, dtype):
    _default_dtypes[_canon(device_type)] = D.to_dtype(dtype)


def is_autocast_enabled(device_type=None):
    dt = _canon(device_type) if device_type is not None else "cuda"
    for d, en, _ in reversed(_stack):
        if d == dt:
            return en
    return False


def is_autocast_available(device_type):
    return _canon(device_type) in DEFAULT_DTYPE


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def wrapper(*args, **kwargs):
        if cast_inputs is None:
            return fwd(*args, **kwargs)
        from .._tensor import Tensor
        args = [a.to(cast_inputs) if isinstance(a, Tensor) and a.dtype.is_floating_point else a for a in args]
        with autocast(device_type, enabled=False):
            return fwd(*args, **kwargs)
    return wrapper


def custom_bwd(bwd=None, *, device_type="cuda"):
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
