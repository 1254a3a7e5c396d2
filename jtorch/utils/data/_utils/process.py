"""Main-process side of the DataLoader's worker processes: the zygote client and worker handles.

See zygote.py for why workers are forked from a zygote rather than from this (JAX-using) process.
"""
import atexit
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

_ZYGOTE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote.py")
_BOOT = ("import sys, json, runpy; sys.path[:] = json.loads(sys.argv[2]); "
         "runpy.run_path(sys.argv[1], run_name='__jtorch_zygote__')")


def _sys_path():
    """The main process's import path, plus the directory jtorch itself was imported from."""
    import jtorch
    root = os.path.dirname(os.path.dirname(os.path.abspath(jtorch.__file__)))
    path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    if root not in path:
        path.append(root)
    return path


class Zygote:
    def __init__(self):
        self.owner = os.getpid()
        self.lock = threading.RLock()
        self.exits = {}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["JAX_PLATFORMS"] = "cpu"
        env["JTORCH_DIST_AUTOINIT"] = "0"  # importing jtorch there must not join a torchrun-style job
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, _ZYGOTE_PATH, json.dumps(_sys_path()), str(theirs.fileno())],
            stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env=env, close_fds=True)
        theirs.close()
        self.sock = ours
        self.tag = 0

    def alive(self):
        return self.proc.poll() is None and self.sock is not None

    def _recv(self, timeout):
        """One message from the zygote (None on timeout); records exit notices."""
        import select
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        msg, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
        if not msg:
            self.close()
            raise RuntimeError("DataLoader worker launcher (zygote) exited unexpectedly "
                               f"(exit code {self.proc.poll()})")
        obj = pickle.loads(msg)
        if obj[0] == "exited":
            self.exits[obj[1]] = obj[2]
            if len(self.exits) > 4096:
                self.exits.pop(next(iter(self.exits)))
        return obj, fds

    def drain(self):
        with self.lock:
            while self.sock is not None and self._recv(0) is not None:
                pass

    def fork(self, count, timeout=120.0):
        """Start `count` workers; returns [(pid, Connection)]."""
        with self.lock:
            self.drain()
            self.tag += 1
            request = {"count": count, "tag": self.tag, "env": dict(os.environ), "sys_path": _sys_path(),
                       "cwd": os.getcwd(), "argv": list(sys.argv)}
            stdio = []
            for fd in (1, 2):
                try:
                    os.fstat(fd)
                    stdio.append(fd)
                except OSError:
                    stdio.append(os.open(os.devnull, os.O_WRONLY))
            try:
                socket.send_fds(self.sock, [pickle.dumps(request)], stdio)
            finally:
                for fd, orig in zip(stdio, (1, 2)):
                    if fd != orig:
                        os.close(fd)
            out = []
            deadline = time.monotonic() + timeout
            while len(out) < count:
                left = deadline - time.monotonic()
                got = self._recv(max(left, 0))
                if got is None:
                    if left <= 0:
                        raise RuntimeError(f"DataLoader: starting worker processes timed out after {timeout} s")
                    continue
                obj, fds = got
                if obj[0] == "forked" and obj[1] == self.tag:
                    fd = fds[0]
                    os.set_inheritable(fd, False)
                    out.append((obj[2], Connection(fd)))
                else:
                    for fd in fds:
                        os.close(fd)
            return out

    def exit_status(self, pid, wait=1.0):
        """The wait status of a worker that exited (None if the zygote has not reported it)."""
        deadline = time.monotonic() + wait
        with self.lock:
            while pid not in self.exits and self.sock is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    self._recv(left)
                except RuntimeError:
                    break
            return self.exits.get(pid)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


_zygote = None
_zlock = threading.Lock()


def get_zygote():
    """The process's zygote, started on first use (and again after a fork or if it died)."""
    global _zygote
    with _zlock:
        z = _zygote
        if z is None or z.owner != os.getpid() or not z.alive():
            if z is not None and z.owner == os.getpid():
                z.close()
            _zygote = z = Zygote()
        return z


def prestart():
    """Start the zygote in the background (a DataLoader with workers calls this when created)."""
    try:
        get_zygote()
    except Exception:  # noqa: BLE001  (reported when workers are actually needed)
        pass


def describe_exit(status):
    if status is None:
        return ""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.strsignal(sig) or signal.Signals(sig).name
        except (ValueError, AttributeError):
            name = str(sig)
        return f" (killed by signal: {name})"
    if os.WIFEXITED(status):
        return f" (exit code {os.WEXITSTATUS(status)})"
    return ""


class WorkerHandle:
    """The main process's end of one worker: its pid and connection."""
    __slots__ = ("pid", "conn", "worker_id", "__weakref__")

    def __init__(self, pid, conn, worker_id):
        self.pid, self.conn, self.worker_id = pid, conn, worker_id

    def send(self, msg):
        self.conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))

    def stop(self):
        """Ask the worker to exit and drop the connection (it exits on the message or on EOF)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.send_bytes(pickle.dumps(("stop",)))
        except OSError:
            pass
        try:
            conn.close()
        except OSError:
            pass

    def is_alive(self):
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return True


def start_workers(count):
    """Fork `count` workers from the zygote, in parallel; returns their WorkerHandles."""
    z = get_zygote()
    try:
        pairs = z.fork(count)
    except (RuntimeError, OSError) as e:
        if z.alive():
            raise
        pairs = get_zygote().fork(count)  # the zygote died: one fresh try
        del e
    return [WorkerHandle(pid, conn, i) for i, (pid, conn) in enumerate(pairs)]


@atexit.register
def _close_zygote():
    z = _zygote
    if z is not None and z.owner == os.getpid():
        z.close()
