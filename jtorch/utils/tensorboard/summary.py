"""Summary protos for jtorch's SummaryWriter (values as numpy; layouts as torch writes them)."""
import io

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData


def make_np(x):
    """A jtorch tensor, numpy array or number as a numpy array (a string: an error, as torch)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (int, float, np.number, bool)):
        return np.array([x])
    if hasattr(x, "detach") and hasattr(x, "numpy"):   # jtorch (or torch) tensors
        return np.asarray(x.detach().cpu().numpy())
    if isinstance(x, str):
        raise NotImplementedError("jtorch: Caffe2 blob names are not supported by add_* (pass a tensor)")
    return np.asarray(x)


def scalar(name, value, new_style=False, double_precision=False):
    a = make_np(value).squeeze()
    if a.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given size: {a.size} and "
                             f"{a.ndim} dimensions.")
    v = float(a)
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=v)])
    proto = TensorProto(double_val=[v], dtype="DT_DOUBLE") if double_precision else \
        TensorProto(float_val=[v], dtype="DT_FLOAT")
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=name, tensor=proto, metadata=meta)])


def default_bins():
    """TensorBoard's exponential buckets (1.1x apart from 1e-12 to 1e20, mirrored, and 0)."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-b for b in reversed(pos)] + [0] + pos


def histogram(name, values, bins, max_bins=None):
    a = make_np(values).astype(float).reshape(-1)
    if a.size == 0:
        raise ValueError("The input has no element.")
    counts, limits = np.histogram(a, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        # merge groups of neighbouring bins (the last group padded with empty bins)
        group = len(counts) // max_bins
        if len(counts) % group:
            counts = np.pad(counts, (0, group - len(counts) % group))
        counts = counts.reshape(-1, group).sum(-1)
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    # keep the bins from the first to the last non-empty one, plus one empty bin on the left:
    # TensorBoard draws a bin from the previous right limit to its own
    nz = np.flatnonzero(counts)
    first, last = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 1)
    kept = np.concatenate([[0], counts[:last]]) if first == 0 else counts[first - 1:last]
    limits = limits[first:last + 1]
    return Summary(value=[Summary.Value(tag=name, histo=HistogramProto(
        min=a.min(), max=a.max(), num=len(a), sum=a.sum(), sum_squares=a.dot(a), bucket_limit=limits.tolist(),
        bucket=kept.tolist()))])


def text(tag, text):
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    proto = TensorProto(dtype="DT_STRING", string_val=[text.encode("utf_8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=proto)])


def _to_hwc(a, dataformats):
    dataformats = dataformats.upper()
    if len(dataformats) != a.ndim:
        raise AssertionError(f"size of input tensor and input format are different. tensor shape: {a.shape}, "
                             f"input_format: {dataformats}")
    if dataformats == "HW":
        a, dataformats = a[None], "CHW"
    if dataformats == "HWC":
        return a
    if dataformats == "CHW":
        return a.transpose(1, 2, 0)
    raise NotImplementedError(f"jtorch: image dataformats {dataformats!r}")


def _grid(a, ncols=8):
    """NCHW images as one CHW grid (what torch's make_grid-like writer does for add_images)."""
    n, c, h, w = a.shape
    if c == 1:
        a = np.repeat(a, 3, axis=1)
        c = 3
    cols = min(n, ncols)
    rows = (n + cols - 1) // cols
    out = np.zeros((c, rows * h, cols * w), dtype=a.dtype)
    for i in range(n):
        r, k = divmod(i, cols)
        out[:, r * h:(r + 1) * h, k * w:(k + 1) * w] = a[i]
    return out


def image(tag, img, dataformats="CHW"):
    a = make_np(img)
    hwc = _to_hwc(a, dataformats)
    if hwc.shape[2] == 1:   # grey: written as RGB, as torch does
        hwc = np.repeat(hwc, 3, axis=2)
    # float images are in [0, 1]: scaled by 255, clipped, truncated (uint8 images as they are)
    scale = 1 if hwc.dtype == np.uint8 else 255
    hwc = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=_encode_png(hwc))])


def images(tag, imgs, dataformats="NCHW"):
    a = make_np(imgs)
    fmt = dataformats.upper()
    if fmt == "NHWC":
        a = a.transpose(0, 3, 1, 2)
    elif fmt != "NCHW":
        raise NotImplementedError(f"jtorch: add_images dataformats {dataformats!r}")
    return image(tag, _grid(a), "CHW")


def _encode_png(hwc):
    from PIL import Image
    h, w = hwc.shape[:2]
    c = 1 if hwc.ndim == 2 else hwc.shape[2]
    buf = io.BytesIO()
    Image.fromarray(hwc).save(buf, format="PNG")
    return Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=buf.getvalue())


def figure_to_image(figure, close=True):
    import matplotlib.backends.backend_agg as agg
    canvas = agg.FigureCanvasAgg(figure)
    canvas.draw()
    data = np.asarray(canvas.buffer_rgba())[:, :, :3]
    if close:
        import matplotlib.pyplot as plt
        plt.close(figure)
    return data.transpose(2, 0, 1)


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The hparams plugin's three summaries: the experiment (hyperparameter and metric names, with
    discrete domains when given), the session's values, and its end (success)."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams.api_pb2 import DataType, Experiment, HParamInfo, MetricInfo, MetricName, Status
    from tensorboard.plugins.hparams.metadata import (EXPERIMENT_TAG, PLUGIN_DATA_VERSION, PLUGIN_NAME,
                                                      SESSION_END_INFO_TAG, SESSION_START_INFO_TAG)
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
    domains = hparam_domain_discrete or {}
    for k, v in domains.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    ssi, infos = SessionStartInfo(), []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if hasattr(v, "item") and not isinstance(v, (bool, int, float, str)):
            v = make_np(v).item()
        if isinstance(v, bool):
            ssi.hparams[k].bool_value, kind, field = v, "DATA_TYPE_BOOL", "bool_value"
        elif isinstance(v, (int, float)):
            ssi.hparams[k].number_value, kind, field = v, "DATA_TYPE_FLOAT64", "number_value"
        elif isinstance(v, str):
            ssi.hparams[k].string_value, kind, field = v, "DATA_TYPE_STRING", "string_value"
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        dom = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in domains[k]]) if k in domains \
            else None
        infos.append(HParamInfo(name=k, type=DataType.Value(kind), domain_discrete=dom))

    def summ(tag, **content):
        data = HParamsPluginData(version=PLUGIN_DATA_VERSION, **content).SerializeToString()
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=data))
        return Summary(value=[Summary.Value(tag=tag, metadata=meta)])
    exp = Experiment(hparam_infos=infos, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    return (summ(EXPERIMENT_TAG, experiment=exp), summ(SESSION_START_INFO_TAG, session_start_info=ssi),
            summ(SESSION_END_INFO_TAG, session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))))
