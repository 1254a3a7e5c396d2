"""torch.hub: local hubconf repositories and cached checkpoints work; anything that must reach the
network does a plain urllib download (offline it fails with urllib's URLError, naming the cache
file to place by hand). Loading from GitHub (clone + trust prompts) is not supported."""
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

_hub_dir = [None]


def get_dir():
    if _hub_dir[0] is not None:
        return _hub_dir[0]
    if os.getenv("TORCH_HUB"):
        return os.getenv("TORCH_HUB")
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"),
                                                                     "torch")))
    return os.path.join(home, "hub")


def set_dir(d):
    _hub_dir[0] = os.path.expanduser(d)


def _load_hubconf(repo_dir):
    path = os.path.join(repo_dir, "hubconf.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hubconf.py not found in {repo_dir}")
    spec = importlib.util.spec_from_file_location("hubconf", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, repo_dir)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(repo_dir)
    return mod


def _local_only(source, what):
    if source != "local":
        raise NotImplementedError(f"jtorch: torch.hub.{what}(source='{source}') is not supported: fetching GitHub "
                                  "repositories is not implemented; clone the repository and pass its directory "
                                  "with source='local' (see docs/unsupported.md)")


def list(repo_or_dir, force_reload=False, skip_validation=False, trust_repo=None, verbose=True, source="github"):  # noqa: A001
    _local_only(source, "list")
    mod = _load_hubconf(repo_or_dir)
    return [n for n in dir(mod) if callable(getattr(mod, n)) and not n.startswith("_")]


def help(repo_or_dir, model, force_reload=False, skip_validation=False, trust_repo=None, source="github"):  # noqa: A001
    _local_only(source, "help")
    return getattr(_load_hubconf(repo_or_dir), model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo=None, force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    _local_only(source, "load")
    entry = getattr(_load_hubconf(repo_or_dir), model, None)
    if entry is None or not callable(entry):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return entry(*args, **kwargs)


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download url to dst (via a temp file in dst's directory), checking a sha256 prefix if given."""
    d = os.path.dirname(os.path.abspath(dst))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d)
    try:
        sha = hashlib.sha256()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "jtorch.hub"})) as r, \
                    os.fdopen(fd, "wb") as f:
                while True:
                    buf = r.read(1 << 20)
                    if not buf:
                        break
                    f.write(buf)
                    sha.update(buf)
        except urllib.error.URLError as e:
            raise urllib.error.URLError(f"jtorch.hub could not download {url} ({e.reason}); if this machine is "
                                        f"offline, download it elsewhere and place it at {dst}") from None
        if hash_prefix is not None and not sha.hexdigest().startswith(hash_prefix):
            raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{sha.hexdigest()}")')
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                             file_name=None, weights_only=True):
    """jtorch.load of the file cached under <hub dir>/checkpoints, downloading it first if absent."""
    model_dir = model_dir or os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        import re
        m = re.search(r"-([a-f0-9]*)\.", filename) if check_hash else None
        download_url_to_file(url, cached, m.group(1) if m else None, progress=progress)
    from .serialization import load as _load
    return _load(cached, map_location=map_location, weights_only=weights_only)
