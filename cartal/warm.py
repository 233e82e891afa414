"""A warm worker for stage commands: a fork server that has imported torch, pandas and pyarrow once.

Every DVC stage is a fresh `cartal` process, and importing the libraries a
stage needs costs 1 to 3 s on a small machine, about as much as a round's
compute (bench/results.md). With the worker, `cartal <stage>` is a small
client: it hands its arguments, working directory, environment, umask,
resource limits and its stdin/stdout/stderr to the worker, which forks a
child that takes them on and runs the command exactly as the client would
have, and passes back the exit code. The stage code is imported fresh in each
child from the project's stages/ folder; the worker only holds the installed
libraries and the cartal package.

- The first stage command starts a worker in the background and runs itself
  as usual; later ones use it. The worker exits after IDLE_SECONDS unused.
- A worker serves only clients whose environment (sys.prefix, interpreter,
  installed distributions), cartal sources (paths, sizes and modification
  times), thread settings, CPU affinity, nice value and hard resource limits
  match its own, so an edited package or another virtualenv never runs stale
  code or other libraries: they get their own.
- Trust: worker and client talk only to a process of their own user id
  (SO_PEERCRED on both ends), through a socket in a folder that is theirs,
  not a symbolic link, and closed to group and others; otherwise the command
  runs in its own process, with one warning.
- Nothing reachable, anything odd, a worker that does not start the command
  within START_SECONDS or goes away before it has: the command runs in its own
  process. CARTAL_WARM=0 turns the worker off.
- If the client dies (DVC interrupted), the child it started stops too.
"""

from __future__ import annotations

# the client half runs before every stage, so it keeps to cheap modules (no pathlib, subprocess, tempfile:
# 20 ms a stage); the worker half imports what it needs
import hashlib
import json
import os
import resource
import socket
import stat
import struct
import sys
import time

ENABLE_ENV = "CARTAL_WARM"
DIR_ENV = "CARTAL_WARM_DIR"  # where the sockets live; default: cartal-warm-<uid> in the temp folder
IDLE_ENV = "CARTAL_WARM_IDLE"  # seconds a worker waits for a command before it exits
STARTED_ENV = "CARTAL_STARTED_AT"  # set for a child: when its client began, so profiles count the client's start-up
IDLE_SECONDS = 120.0
HANDSHAKE_SECONDS = 2.0  # the worker's wait for a request once connected: a silent connection holds it no longer
START_SECONDS = 5.0  # the client's wait for the worker to start its command (the child's pid), then it runs it itself
MAX_REQUEST = 64 << 20
# the instruction sets and code paths that ATen, MKL and oneDNN pick their kernels for: fixed once torch has
# loaded, and each changes the features' last digits (docs/results.md); cartal.provenance records them
ARITHMETIC_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
                  "DNNL_MAX_CPU_ISA")
# read when torch and its BLAS load, so a worker started with other values would run differently
_IMPORT_TIME_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                    "PYTHONPATH", "PYTHONHASHSEED", *ARITHMETIC_ENV)
# what the stage commands import, including what libraries import lazily on first use (typer's argument
# parsing imports pydantic, 0.3 s; reading Parquet imports pyarrow.dataset); transformers (embed) is left out
_PRELOAD = ("torch", "numpy", "pandas", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.pandas_compat",
            "safetensors.torch", "typer._adapters", "cartal.cli", "cartal.io.artifacts", "cartal.data",
            "cartal.metrics", "cartal.oracle", "cartal.models.training", "cartal.models.inference", "cartal.dynamics",
            "cartal.strategies")
# every resource limit this platform has: a child takes on the client's (the hard ones are part of the key)
_RLIMITS = tuple(sorted((name, getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")))
_HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")
_PID = struct.Struct("!i")  # the child's first word to its client: its pid, or 0 if it cannot run the command
_GO = b"\x01"  # the client's answer, with its stdin/stdout/stderr: run it (a child that hears nothing runs nothing)
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid

_warned = False


class UnsafeFolder(OSError):
    """The socket folder is not safe to talk through: the command runs in its own process."""


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1") != "0"


def process_settings() -> dict:
    """What a forked child would otherwise keep from the worker: umask, resource limits, CPU affinity, nice."""
    umask = os.umask(0o077)
    os.umask(umask)
    limits = {}
    for name, number in _RLIMITS:
        try:
            limits[name] = list(resource.getrlimit(number))
        except (OSError, ValueError):
            continue
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"umask": umask, "rlimits": limits, "affinity": affinity, "nice": os.getpriority(os.PRIO_PROCESS, 0)}


def worker_key(settings: dict | None = None) -> str:
    """What a worker must share with a client to run its command: environment, cartal sources, thread settings,
    and what a child cannot take on from its client (CPU affinity, which torch's thread count follows at import;
    the nice value and hard limits, which only go one way without privileges)."""
    settings = settings or process_settings()
    digest = hashlib.sha256(f"{sys.prefix}\n{os.path.realpath(sys.executable)}\n".encode())
    for folder in sys.path:  # the installed distributions and their versions, as their metadata folders name them
        if os.path.basename(folder) in ("site-packages", "dist-packages"):
            try:
                names = sorted(name for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info")))
            except OSError:
                continue
            digest.update(f"{folder}:{','.join(names)}\n".encode())
    package = os.path.dirname(os.path.realpath(__file__))
    sources = sorted(os.path.join(folder, name) for folder, _, names in os.walk(package)
                     for name in names if name.endswith(".py"))
    for path in sources:
        info = os.stat(path)
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    for name in _IMPORT_TIME_ENV:
        digest.update(f"{name}={os.environ.get(name)}\n".encode())
    hard = {name: limits[1] for name, limits in settings["rlimits"].items()}
    digest.update(json.dumps([settings["affinity"], settings["nice"], hard], sort_keys=True).encode())
    return digest.hexdigest()[:20]


def socket_folder() -> str:
    """The folder of the sockets, made if missing; refused (UnsafeFolder) unless it is a folder of this user,
    not a symbolic link, that group and others cannot enter: whoever can reach a socket runs code as its owner."""
    folder = os.environ.get(DIR_ENV) or os.path.join(_temp_folder(), f"cartal-warm-{os.getuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    fix = f"set {DIR_ENV} to a folder of your own with mode 700, or {ENABLE_ENV}=0 to run every stage on its own"
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFolder(f"{folder} is a symbolic link; {fix}")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolder(f"{folder} is not a folder; {fix}")
    if info.st_uid != os.getuid():
        raise UnsafeFolder(f"{folder} belongs to user id {info.st_uid}, not to you; {fix}")
    if info.st_mode & 0o077:
        raise UnsafeFolder(f"{folder} is open to group or others (mode {stat.S_IMODE(info.st_mode):o}); "
                           f"chmod 700 it, or {fix}")
    return folder


def socket_path(key: str) -> str:
    path = os.path.join(socket_folder(), f"{key}.sock")
    if len(os.fsencode(path)) > 107:  # the limit of a Unix socket's address
        raise OSError(f"{path} is too long for a socket; set {DIR_ENV} to a shorter folder")
    return path


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket (the kernel's word, not the peer's)."""
    return _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))[1]


def _temp_folder() -> str:
    """tempfile.gettempdir() without importing tempfile: TMPDIR, TEMP or TMP if set, else /tmp."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(name):
            return os.environ[name]
    return "/tmp"  # noqa: S108 - as tempfile's first fallback; the folder below it is per user and checked


def _warn(message: str) -> None:
    """One line on stderr, once per process, when the worker is not used for a reason the user should fix."""
    global _warned
    if not _warned:
        _warned = True
        print(f"cartal: not using the warm worker: {message}; running the command in its own process",
              file=sys.stderr)


# ------------------------------------------------------------------ client

def run_in_worker(argv: list[str]) -> int | None:
    """Run ``cartal argv`` in the warm worker and return its exit code; None if it must run here instead.

    None whenever the command has not started in the worker: no worker yet, one of another user, an unsafe
    socket folder, a worker that does not start the command within START_SECONDS, or one that goes away first.
    """
    started = time.time()
    if os.environ.get("CARTAL_PROFILE"):  # profiles count start-up from the process's creation
        from cartal.profiling import process_created

        started = process_created()
    settings = process_settings()
    try:
        path = socket_path(worker_key(settings))
    except UnsafeFolder as exc:
        _warn(str(exc))
        return None
    except OSError:
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return _hand_over(client, path, argv, settings, started)
    finally:
        client.close()


def _hand_over(client: socket.socket, path: str, argv: list[str], settings: dict, started: float) -> int | None:
    client.settimeout(START_SECONDS)  # a worker whose queue is full, or that reads nothing, is not waited for
    try:
        client.connect(path)
    except TimeoutError:
        _warn(f"the worker at {path} did not answer within {START_SECONDS:g} s")
        return None
    except OSError:
        _start_worker()
        return None
    try:
        uid = peer_uid(client)
    except OSError:
        return None
    if uid != os.getuid():  # a squatted or linked path must not get this process's environment and streams
        _warn(f"{path} is served by user id {uid}, not by you")
        return None
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), **settings,
                          "env": {**os.environ, STARTED_ENV: os.environ.get(STARTED_ENV, str(started))}}).encode()
    try:
        client.sendall(_HEADER.pack(len(request)) + request)
        ack = _recv_exactly(client, _PID.size)
        if ack is None or _PID.unpack(ack)[0] <= 0:
            return None  # the worker went away (idle, killed) or cannot take on this process's limits: nothing ran
        # the standard streams go only to a child that is ready: a worker that never starts the command holds none
        socket.send_fds(client, [_GO], [0, 1, 2])
    except TimeoutError:
        _warn(f"the worker at {path} did not start the command within {START_SECONDS:g} s")
        return None
    except OSError:
        return None  # reset or closed before the command started: nothing ran
    except KeyboardInterrupt:  # the child, if any, hears nothing and runs nothing
        return 130
    client.settimeout(None)
    try:
        reply = _recv_exactly(client, _CODE.size)
    except KeyboardInterrupt:  # closing the socket stops the child too
        return 130
    except OSError:
        reply = None
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
    os.umask(0o077)  # the socket and lock are the user's alone; each child takes on its client's umask
    try:
        path = Path(socket_path(worker_key()))
    except OSError:
        return  # an unsafe or unusable folder: the clients run their commands themselves
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
            pid = None
            try:
                if peer_uid(conn) != os.getuid():
                    raise PermissionError("a client of another user")
                conn.settimeout(HANDSHAKE_SECONDS)  # a silent or slow connection must not hold every other
                request = _read_request(conn)
                pid = os.fork()
            except (OSError, ValueError, TypeError, KeyError, struct.error):
                pass
            if pid == 0:
                server.close()
                _child(conn, request)
            conn.close()
    finally:
        path.unlink(missing_ok=True)
        server.close()


def _read_request(conn: socket.socket) -> dict:
    """The client's request. Read without room for file descriptors: any sent along are closed by the kernel."""
    header = _recv_exactly(conn, _HEADER.size)
    if header is None:
        raise ValueError("a truncated request")
    size = _HEADER.unpack(header)[0]
    if size > MAX_REQUEST:
        raise ValueError("a request too large")
    body = _recv_exactly(conn, size)
    if body is None:
        raise ValueError("a truncated request")
    request = json.loads(body)
    if not (isinstance(request, dict) and isinstance(request.get("argv"), list)
            and all(isinstance(a, str) for a in request["argv"])
            and isinstance(request.get("cwd"), str) and isinstance(request.get("env"), dict)
            and isinstance(request.get("umask"), int) and isinstance(request.get("rlimits"), dict)):
        raise ValueError("a malformed request")
    return request


def _take_on(request: dict) -> None:
    """The client's umask and resource limits (hard ones only lower: the key made them equal)."""
    os.umask(request["umask"] & 0o777)
    numbers = dict(_RLIMITS)
    for name, (soft, hard) in request["rlimits"].items():
        if name in numbers:
            resource.setrlimit(numbers[name], (soft, hard))


def _child(conn: socket.socket, request: dict) -> None:
    """Become the client's process: its umask, limits, standard streams, directory and environment; run; report
    the code. Nothing runs until the client, told the child's pid, says go with its streams: a client that gave up
    waiting runs the command itself, and this child then exits without running it."""
    import signal
    import threading
    import traceback

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        _take_on(request)
        ready = True
    except (OSError, ValueError, TypeError, OverflowError):
        ready = False
    go, fds = b"", []
    try:
        conn.settimeout(None)  # no time limit: the client either says go or closes, and only then runs it itself
        conn.sendall(_PID.pack(os.getpid() if ready else 0))
        if ready:
            go, fds, _, _ = socket.recv_fds(conn, len(_GO), 3)
    except OSError:
        pass
    if go != _GO or len(fds) != 3:
        os._exit(0)  # its streams, if any, close with it
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
