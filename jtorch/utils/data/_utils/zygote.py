"""The DataLoader's zygote: a small process that forks worker processes.

Why: a process forked after JAX has initialized a backend hangs on its first JAX op, and a
`spawn`ed child re-imports the user's `__main__` (re-running a script without an
`if __name__ == '__main__'` guard) and pays the ~1 s JAX import. The zygote is started as a fresh
interpreter (never forked from the JAX-using parent), imports numpy, JAX and cloudpickle without
initializing any JAX backend, and jtorch too (its import starts no backend either; checked, see
_preload_jtorch), then forks a worker for each request: the worker is ready at once, has a
pristine JAX (CPU only: JAX_PLATFORMS=cpu), and never runs the user's script.

This file is run as a script (`runpy.run_path`), not imported as part of jtorch: nothing in the
zygote may initialize a JAX backend or start a thread, after which forking would be unsafe.

Protocol on the control socket (AF_UNIX SOCK_SEQPACKET, one message per request/reply):
  main -> zygote: pickle({"count", "tag", "env", "sys_path", "cwd", "argv"}) with the main
                  process's stdout and stderr file descriptors attached;
  zygote -> main: ("ready", pid) once; ("forked", tag, pid) with the main end of a socketpair
                  attached (the worker holds the other end); ("exited", pid, wait_status).
When the control socket closes (main exited), the zygote terminates its children and exits; each
worker also gets SIGKILL if the zygote dies (PR_SET_PDEATHSIG), so no process outlives the main one.
"""
import os
import pickle
import select
import signal
import socket
import sys


def _set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001  (not Linux: the worker notices its closed socket instead)
        pass


def _child(request, worker_fd, out_fd, err_fd, zygote_pid):
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _set_pdeathsig()
        if os.getppid() != zygote_pid:
            os._exit(0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        env = dict(request["env"])
        env["JAX_PLATFORMS"] = "cpu"  # workers never take a GPU/TPU
        env["JTORCH_DIST_AUTOINIT"] = "0"  # a worker never joins the main process's distributed job
        flags = env.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:  # one compute thread per worker, like torch's workers
            env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
        os.environ.clear()
        os.environ.update(env)
        sys.path[:] = request["sys_path"]
        try:
            os.chdir(request["cwd"])
        except OSError:
            pass
        sys.argv[:] = request.get("argv") or [""]
        from jtorch.utils.data._utils.worker import _worker_main
        _worker_main(worker_fd)
    except BaseException:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _preload_jtorch():
    """Import jtorch (and the worker loop) here too, so a forked worker starts with it loaded.
    Safe only while importing jtorch starts no XLA backend and no thread: checked, and if that
    ever stops holding, the zygote re-executes itself without the preload."""
    if os.environ.get("_JTORCH_ZYGOTE_NO_PRELOAD") == "1":
        return
    import threading
    try:
        import jtorch.utils.data._utils.worker  # noqa: F401
        from jax._src import xla_bridge
        clean = not getattr(xla_bridge, "_backends", {}) and threading.active_count() == 1
    except Exception:  # noqa: BLE001
        clean = False
    if not clean:
        os.environ["_JTORCH_ZYGOTE_NO_PRELOAD"] = "1"
        os.execv(sys.executable, [sys.executable] + list(sys.orig_argv[1:]))


def main(ctrl_fd):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    ctrl = socket.socket(fileno=ctrl_fd)
    try:  # preload what every worker needs
        import numpy  # noqa: F401
        import jax  # noqa: F401
        import jax.numpy  # noqa: F401
        import cloudpickle  # noqa: F401
    except Exception:  # noqa: BLE001  (the workers will report a real import error)
        pass
    _preload_jtorch()
    me = os.getpid()
    children = set()

    def send(obj, fds=(), flags=0):
        socket.send_fds(ctrl, [pickle.dumps(obj)], list(fds), flags)

    def reap():
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            try:  # a notice the main process may never read: never block on it
                send(("exited", pid, status), flags=socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass

    try:
        send(("ready", me))
        while True:
            r, _, _ = select.select([ctrl], [], [], 0.05 if children else 1.0)
            reap()
            if not r:
                continue
            msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 22, 4)
            if not msg:
                break
            request = pickle.loads(msg)
            out_fd, err_fd = fds[0], fds[1]
            for _ in range(request["count"]):
                a, b = socket.socketpair()
                pid = os.fork()
                if pid == 0:
                    ctrl.close()
                    a.close()
                    _child(request, b.detach(), out_fd, err_fd, me)
                b.close()
                children.add(pid)
                send(("forked", request["tag"], pid), [a.fileno()])
                a.close()
            for f in fds:
                os.close(f)
    except (BrokenPipeError, ConnectionError, OSError):
        pass
    # The main process is gone (or closed us): take the workers down with us.
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    import time
    deadline = time.monotonic() + 2.0
    while children and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.02)
        else:
            children.discard(pid)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)


if __name__ == "__jtorch_zygote__":
    main(int(sys.argv[-1]))
