"""`jtorch run script.py [args]` / `python -m jtorch run ...`: run an unmodified PyTorch script on jtorch."""
import os
import runpy
import sys

USAGE = """usage: jtorch run SCRIPT [ARGS...]      run a PyTorch script with `torch` aliased to jtorch
       jtorch run -m MODULE [ARGS...]   the same for a module (python -m style)
       jtorch version                   print jtorch's and JAX's versions and devices"""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "version":
        import jax
        import jtorch
        print(f"jtorch {jtorch.__version__}, jax {jax.__version__}, devices: {jax.devices()}")
        return 0
    if cmd != "run" or not rest:
        print(USAGE, file=sys.stderr)
        return 2
    from jtorch._alias import install_as_torch
    install_as_torch()
    if rest[0] == "-m":
        if len(rest) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = rest[1:]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
        return 0
    script = rest[0]
    if not os.path.exists(script):
        print(f"jtorch run: no such file: {script}", file=sys.stderr)
        return 2
    sys.argv = rest
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
