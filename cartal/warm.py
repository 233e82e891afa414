"""A warm worker for stage commands: a fork server that has imported torch, pandas and pyarrow once.

Every DVC stage is a fresh `cartal` process, and importing the libraries a
stage needs costs 1 to 3 s on a small machine, about as much as a round's
compute (bench/results.md). With the worker, `cartal <stage>` is a small
client: it hands its arguments, working directory, environment and its
stdin/stdout/stderr to the worker, which forks a child that runs the command
exactly as the client would have, and passes back the exit code. The stage
code is imported fresh in each child from the project's stages/ folder; the
worker only holds the installed libraries and the cartal package.

- The first stage command starts a worker in the background and runs itself
  as usual; later ones use it. The worker exits after IDLE_SECONDS unused.
- A worker serves only clients whose Python, cartal sources (paths, sizes and
  modification times) and thread settings match its own, so an edited
  package or another virtualenv never runs stale code: they get their own.
- Nothing reachable, anything odd: the command runs in its own process.
  CARTAL_WARM=0 turns the worker off.
- If the client dies (DVC interrupted), the child it started stops too.
"""

from __future__ import annotations

# the client half runs before every stage, so it keeps to cheap modules (no pathlib, subprocess, tempfile:
# 20 ms a stage); the worker half imports what it needs
import hashlib
import json
import os
import socket
import struct
import sys
import time

ENABLE_ENV = "CARTAL_WARM"
DIR_ENV = "CARTAL_WARM_DIR"  # where the sockets live; default: cartal-warm-<uid> in the temp folder
IDLE_ENV = "CARTAL_WARM_IDLE"  # seconds a worker waits for a command before it exits
STARTED_ENV = "CARTAL_STARTED_AT"  # set for a child: when its client began, so profiles count the client's start-up
IDLE_SECONDS = 120.0
# read when torch and its BLAS load, so a worker started with other values would run differently
_IMPORT_TIME_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                    "PYTHONPATH", "PYTHONHASHSEED")
# what the stage commands import, including what libraries import lazily on first use (typer's argument
# parsing imports pydantic, 0.3 s; reading Parquet imports pyarrow.dataset); transformers (embed) is left out
_PRELOAD = ("torch", "numpy", "pandas", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.pandas_compat",
            "safetensors.torch", "typer._adapters", "cartal.cli", "cartal.io.artifacts", "cartal.data",
            "cartal.metrics", "cartal.oracle", "cartal.models.training", "cartal.models.inference", "cartal.dynamics",
            "cartal.strategies")
_HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1") != "0"


def worker_key() -> str:
    """What a worker must share with a client to run its command: interpreter, cartal sources, thread settings."""
    digest = hashlib.sha256(os.path.realpath(sys.executable).encode())
    package = os.path.dirname(os.path.realpath(__file__))
    sources = sorted(os.path.join(folder, name) for folder, _, names in os.walk(package)
                     for name in names if name.endswith(".py"))
    for path in sources:
        stat = os.stat(path)
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for name in _IMPORT_TIME_ENV:
        digest.update(f"{name}={os.environ.get(name)}\n".encode())
    return digest.hexdigest()[:20]


def socket_path(key: str) -> str:
    folder = os.environ.get(DIR_ENV) or os.path.join(_temp_folder(), f"cartal-warm-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.stat(folder).st_uid != os.getuid():
        raise OSError(f"{folder} belongs to another user")
    path = os.path.join(folder, f"{key}.sock")
    if len(os.fsencode(path)) > 107:  # the limit of a Unix socket's address
        raise OSError(f"{path} is too long for a socket; set {DIR_ENV} to a shorter folder")
    return path


def _temp_folder() -> str:
    """tempfile.gettempdir() without importing tempfile: TMPDIR, TEMP or TMP if set, else /tmp."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(name):
            return os.environ[name]
    return "/tmp"  # noqa: S108 - as tempfile's first fallback; the folder below it is per user and checked


# ------------------------------------------------------------------ client

def run_in_worker(argv: list[str]) -> int | None:
    """Run ``cartal argv`` in the warm worker and return its exit code; None if it must run here instead."""
    started = time.time()
    if os.environ.get("CARTAL_PROFILE"):  # profiles count start-up from the process's creation
        from cartal.profiling import process_created

        started = process_created()
    try:
        path = socket_path(worker_key())
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(path)
    except OSError:
        _start_worker()
        return None
    request = json.dumps({"argv": argv, "cwd": os.getcwd(),
                          "env": {**os.environ, STARTED_ENV: os.environ.get(STARTED_ENV, str(started))}}).encode()
    try:
        socket.send_fds(client, [_HEADER.pack(len(request))], [0, 1, 2])
        client.sendall(request)
    except OSError:
        return None  # the worker went away between connect and send: nothing ran
    try:
        reply = _recv_exactly(client, _CODE.size)
    except KeyboardInterrupt:  # closing the socket stops the child too
        return 130
    if reply is None:
        print("cartal: the warm worker's process for this command ended without an exit code "
              "(killed? out of memory?); rerun with CARTAL_WARM=0 to run it in its own process", file=sys.stderr)
        return 1
    return _CODE.unpack(reply)[0]


def _start_worker() -> None:
    """Start a worker in the background for later commands; this one runs in its own process meanwhile."""
    import subprocess

    try:
        subprocess.Popen([sys.executable, "-m", "cartal.warm"], cwd="/", start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass


def _recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# ------------------------------------------------------------------ worker

def serve(idle_seconds: float | None = None) -> None:
    """Bind the socket for this interpreter's key, preload the libraries, fork a child per request."""
    import fcntl
    import signal
    from pathlib import Path

    idle_seconds = idle_seconds or float(os.environ.get(IDLE_ENV) or IDLE_SECONDS)
    path = Path(socket_path(worker_key()))
    lock = open(path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held for the worker's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another worker for this key is running or starting
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")  # the worker's pid, for `kill`
    lock.flush()
    if "" in sys.path:
        sys.path.remove("")
    sys.path[:] = [p for p in sys.path if p not in (os.getcwd(), ".")]
    import importlib

    for module in _PRELOAD:
        importlib.import_module(module)
    import gc

    gc.collect()
    gc.freeze()  # a child's collections then skip the preloaded objects instead of copying every page they sit on
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    server.settimeout(idle_seconds)
    try:
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                break
            conn.settimeout(None)
            try:
                header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
                request = json.loads(_recv_exactly(conn, _HEADER.unpack(header)[0]))
            except (OSError, ValueError, TypeError, struct.error):
                conn.close()
                continue
            if os.fork() == 0:
                server.close()
                _child(conn, request, fds)
            conn.close()
            for fd in fds:
                os.close(fd)
    finally:
        path.unlink(missing_ok=True)
        server.close()


def _child(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """Become the client's process: its directory, environment and standard streams; run; report the code."""
    import signal
    import threading
    import traceback

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())

        def stop_when_the_client_is_gone():
            while conn.recv(1):
                pass
            os._exit(143)

        threading.Thread(target=stop_when_the_client_is_gone, daemon=True).start()
        sys.argv = ["cartal", *request["argv"]]
        from cartal.cli import app

        try:
            app(args=request["argv"], prog_name="cartal")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the client must hear of any failure
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        try:
            conn.sendall(_CODE.pack(code))
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve()
