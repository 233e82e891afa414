"""The warm worker's trust and failure behaviour (issue 18, items 1 to 6): it serves and is served only by its own
user through a folder of that user's alone; a silent connection or a worker that never starts the command holds
no stage up; a worker that goes away before starting the command leaves the client to run it; the child takes on
the client's umask and limits, and a client whose nice value, CPU affinity or virtualenv differ gets another
worker; a truncated request leaks nothing; a stage command stops when DVC is killed."""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from cartal import warm
from projects import embedded_project
from warm_workers import stop_workers


def short_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))  # short: a socket's path has 107 bytes at most


@pytest.fixture
def sockets(monkeypatch):
    """A fresh socket folder of this user's, mode 700, for this test's clients."""
    folder = short_folder("cartal-warm-sec-")
    monkeypatch.setenv(warm.DIR_ENV, str(folder))
    monkeypatch.setattr(warm, "_warned", False, raising=False)  # each test's warning is the first
    yield folder
    stop_workers(folder)
    shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ unit: the folder, the key

def test_a_group_writable_socket_folder_is_refused(sockets, capsys):
    os.chmod(sockets, 0o770)  # CARTAL_WARM_DIR on a group-shared folder
    with pytest.raises(warm.UnsafeFolder, match="open to group or others"):
        warm.socket_folder()
    assert warm.run_in_worker(["check-params"]) is None  # runs in its own process: not through that folder
    err = capsys.readouterr().err
    assert "chmod 700" in err and str(sockets) in err
    assert not list(sockets.iterdir())  # no worker was started there either


def test_a_symlinked_socket_folder_is_refused(sockets, monkeypatch):
    link = sockets.parent / f"{sockets.name}-link"
    link.symlink_to(sockets)
    try:
        monkeypatch.setenv(warm.DIR_ENV, str(link))
        with pytest.raises(warm.UnsafeFolder, match="symbolic link"):
            warm.socket_folder()
    finally:
        link.unlink()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a folder to another user")
def test_a_socket_folder_of_another_user_is_refused(sockets):
    os.chown(sockets, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(warm.UnsafeFolder, match="belongs to user id"):
        warm.socket_folder()


def test_the_warning_is_given_once_per_process(sockets, capsys):
    os.chmod(sockets, 0o755)
    assert warm.run_in_worker(["check-params"]) is None
    assert warm.run_in_worker(["check-params"]) is None
    assert capsys.readouterr().err.count("not using the warm worker") == 1


def test_the_key_depends_on_sys_prefix(monkeypatch):
    one = warm.worker_key()
    monkeypatch.setattr(sys, "prefix", "/somewhere/else/.venv")
    assert warm.worker_key() != one


def test_the_key_depends_on_the_installed_versions(monkeypatch, tmp_path):
    site = tmp_path / "site-packages"
    (site / "torch-2.4.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    one = warm.worker_key()
    (site / "torch-2.4.0.dist-info").rename(site / "torch-2.5.1.dist-info")
    assert warm.worker_key() != one


def test_the_key_depends_on_what_a_child_cannot_take_on():
    settings = warm.process_settings()
    key = warm.worker_key(settings)
    assert warm.worker_key({**settings, "nice": settings["nice"] + 5}) != key
    assert warm.worker_key({**settings, "affinity": settings["affinity"][:1] + [999]}) != key
    nofile = settings["rlimits"]["RLIMIT_NOFILE"]
    lower_hard = {**settings["rlimits"], "RLIMIT_NOFILE": [nofile[0], nofile[1] - 1]}
    assert warm.worker_key({**settings, "rlimits": lower_hard}) != key
    lower_soft = {**settings["rlimits"], "RLIMIT_NOFILE": [nofile[0] - 1, nofile[1]]}
    assert warm.worker_key({**settings, "rlimits": lower_soft}) == key  # a child takes that on
    assert warm.worker_key({**settings, "umask": 0o077}) == key  # and that


@pytest.mark.integration
def test_two_virtualenvs_on_one_interpreter_get_two_workers(tmp_path):
    keys = []
    for name in ("a", "b"):
        venv = tmp_path / name
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                       check=True)
        python = venv / "bin" / "python"
        assert os.path.realpath(python) == os.path.realpath(sys.executable)  # the same base interpreter
        keys.append(subprocess.run([str(python), "-c", "from cartal import warm; print(warm.worker_key())"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    assert keys[0] != keys[1]


# ------------------------------------------------------------------ fake workers: the client's side

@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    return embedded_project(tmp_path_factory.mktemp("warm-sec-project"), shared_data)


def stage(project: Path, *args: str, timeout: float = 120, preexec_fn=None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["cartal", *args], cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn)


def key_path() -> Path:
    """Where a `cartal` client started from this process (same environment) looks for its worker."""
    return Path(warm.socket_path(warm.worker_key()))


class FakeWorker:
    """A socket at the client's path that accepts one connection and then does what ``behaviour`` says."""

    def __init__(self, path: Path, behaviour):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.received = b""
        self.thread = threading.Thread(target=self._serve, args=(behaviour,), daemon=True)
        self.thread.start()

    def _serve(self, behaviour):
        self.server.settimeout(60)
        conn, _ = self.server.accept()
        behaviour(self, conn)

    def close(self):
        self.server.close()


@pytest.mark.slow
def test_a_worker_that_never_starts_the_command_leaves_it_to_the_client(project, sockets):
    def silent(fake, conn):
        time.sleep(30)  # reads nothing, answers nothing: a worker stuck, stopped or busy
        conn.close()

    fake = FakeWorker(key_path(), silent)
    try:
        began = time.monotonic()
        result = stage(project, "check-params", timeout=25)
        assert result.returncode == 0, result.stderr
        assert "did not start the command within" in result.stderr
        assert time.monotonic() - began < warm.START_SECONDS + 15
    finally:
        fake.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["reset", "closed"])
def test_a_worker_gone_before_the_command_started_leaves_it_to_the_client(project, sockets, how):
    """As when the worker reaches its idle timeout or is killed with a request in its queue: the connection is
    reset (the request unread) or closed (read, no child started)."""
    def goes_away(fake, conn):
        conn.settimeout(30)
        header = conn.recv(4)
        time.sleep(1)  # the whole request is in: the client waits for its command to start
        if how == "closed":
            size = struct_unpack(header)
            while size > 0:
                size -= len(conn.recv(min(size, 65536)) or b"x" * size)
        conn.close()  # with unread data: the client's read is reset

    (project / "data" / "params-checked.json").unlink(missing_ok=True)
    fake = FakeWorker(key_path(), goes_away)
    try:
        result = stage(project, "check-params", timeout=60)
    finally:
        fake.close()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "ended without an exit code" not in result.stderr
    assert (project / "data" / "params-checked.json").is_file()


def struct_unpack(header: bytes) -> int:
    import struct

    return struct.unpack("!I", header)[0]


def _as_user(uid: int, gid: int, work) -> bytes:
    """Run ``work()`` (returns bytes) in a forked child with another user id; its result comes back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            result = work()
            os.write(write, json.dumps({"ok": result.hex()}).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = json.loads(pipe.read() or b'{"error": "no answer"}')
    os.waitpid(pid, 0)
    if "error" in answer:
        raise AssertionError(answer["error"])
    return bytes.fromhex(answer["ok"])


@pytest.mark.slow
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_a_client_does_not_hand_itself_to_a_worker_of_another_user(project, sockets):
    nobody = pwd.getpwnam("nobody")
    theirs = short_folder("cartal-other-")
    os.chmod(theirs, 0o777)
    received = {}

    def squatter():
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(theirs / "w.sock"))
        os.chmod(theirs / "w.sock", 0o777)
        server.listen(1)
        server.settimeout(30)
        conn, _ = server.accept()
        conn.settimeout(5)
        data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
        for fd in fds:
            os.close(fd)
        return json.dumps({"bytes": len(data), "fds": len(fds)}).encode()

    def other_user():
        received.update(json.loads(_as_user(nobody.pw_uid, nobody.pw_gid, squatter)))

    thread = threading.Thread(target=other_user)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not (theirs / "w.sock").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        key_path().symlink_to(theirs / "w.sock")  # a squatted or linked path
        result = stage(project, "check-params", timeout=60)
    finally:
        thread.join(timeout=40)
        shutil.rmtree(theirs, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert f"served by user id {nobody.pw_uid}, not by you" in result.stderr
    assert received == {"bytes": 0, "fds": 0}  # nothing of the caller's: no environment, no streams


# ------------------------------------------------------------------ a real worker

@pytest.fixture(scope="module")
def worker():
    """A worker of its own, started and ready, with its socket folder; stopped afterwards."""
    folder = short_folder("cartal-warm-w-")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(warm.DIR_ENV, str(folder))
        env.setenv(warm.IDLE_ENV, "600")
        # started by a command of a user whose umask is 002: its socket must be the user's alone all the same
        process = subprocess.Popen([sys.executable, "-m", "cartal.warm"], cwd="/", env=dict(os.environ),
                                   preexec_fn=lambda: os.umask(0o002))
        deadline = time.monotonic() + 180
        while not list(folder.glob("*.sock")):
            assert process.poll() is None and time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        yield psutil.Process(process.pid), next(folder.glob("*.sock"))
        stop_workers(folder)
        process.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def served(worker, monkeypatch):
    """Clients started by this test use the worker."""
    monkeypatch.setenv(warm.DIR_ENV, str(worker[1].parent))
    return worker


def request_bytes(argv: list[str], cwd: str) -> bytes:
    """A well-formed request (a client's settings: umask 022, the worker's limits)."""
    return json.dumps({"argv": argv, "cwd": cwd, "umask": 0o022, "rlimits": {}, "affinity": None, "nice": 0,
                       "env": dict(os.environ)}).encode()


@pytest.mark.slow
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_the_worker_refuses_a_client_of_another_user(served, tmp_path):
    """As when CARTAL_WARM_DIR was a group-shared folder: another user reaches the socket, and is refused."""
    process, path = served
    nobody = pwd.getpwnam("nobody")
    modes = {folder: os.stat(folder).st_mode & 0o777 for folder in (path.parent, path)}
    os.chmod(path.parent, 0o711)
    os.chmod(path, 0o777)
    out = open(tmp_path / "out", "w+")  # noqa: SIM115 - the streams the other user hands over

    def connect_and_ask():
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(20)
        client.connect(str(path))
        request = request_bytes(["--help"], "/")
        reply = b""
        try:
            socket.send_fds(client, [struct_header(len(request))], [out.fileno()] * 3)
            client.sendall(request)
            while chunk := client.recv(64):
                reply += chunk
                client.sendall(b"\x01")  # go, if it asks
        except OSError:
            pass
        return reply

    try:
        reply = _as_user(nobody.pw_uid, nobody.pw_gid, connect_and_ask)
    finally:
        for folder, mode in modes.items():
            os.chmod(folder, mode)
        out.close()
    assert reply == b""  # refused: no pid, no exit code
    assert (tmp_path / "out").read_text() == ""  # and nothing ran
    assert process.is_running()


def struct_header(size: int) -> bytes:
    import struct

    return struct.pack("!I", size)


@pytest.mark.slow
def test_the_socket_is_the_users_alone(served):
    _, path = served
    assert os.stat(path).st_mode & 0o077 == 0  # made under umask 077, whatever the umask of who started it
    assert os.stat(path.parent).st_mode & 0o077 == 0


@pytest.mark.slow
def test_a_silent_connection_does_not_hold_up_the_stages(project, served, tmp_path):
    _, path = served
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(path))  # connected, sends nothing, stays open
    try:
        profile = tmp_path / "profile.jsonl"
        result = stage(project, "check-params", timeout=60, CARTAL_PROFILE=str(profile))
        assert result.returncode == 0, result.stderr
        assert json.loads(profile.read_text())["warm"] is True  # served once the worker gave up on the silent one
    finally:
        silent.close()


def open_fds(process: psutil.Process) -> int:
    return len(os.listdir(f"/proc/{process.pid}/fd"))


def fd_targets(process: psutil.Process) -> list[str]:
    folder = Path(f"/proc/{process.pid}/fd")
    return sorted(os.readlink(fd) for fd in folder.iterdir())


def settled_fds(process: psutil.Process, seconds: float = 60) -> int:
    """The worker's open descriptors once the count has not changed for a second (an earlier test's connection
    may still be closing on a loaded machine), or after ``seconds``."""
    deadline, last, since = time.monotonic() + seconds, open_fds(process), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 1:
        time.sleep(0.1)
        now = open_fds(process)
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.mark.slow
def test_truncated_requests_leak_no_file_descriptors(served):
    process, path = served
    before, targets = settled_fds(process), fd_targets(process)
    for _ in range(20):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(path))
        socket.send_fds(client, [struct_header(1000)], [0, 1, 2])
        client.sendall(b'{"argv": [')  # and no more
        client.close()
    # The worker takes connections one at a time, in order: once it has closed this last one, it is done with
    # all twenty. A count read while it is between two of them would pass or fail by chance (CI saw one such).
    last = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    last.settimeout(60)
    last.connect(str(path))
    last.sendall(struct_header(1000) + b'{"argv": [')
    last.shutdown(socket.SHUT_WR)
    try:
        answer = last.recv(1)
    except TimeoutError:
        answer = None
    assert answer == b"", "the worker did not close a truncated request within 60 s"
    last.close()
    after = settled_fds(process)
    assert after <= before, f"before: {targets}, after: {fd_targets(process)}"
    assert process.is_running()


def _umask_and_nofile(pid: int) -> tuple[int, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return (int(status.split("Umask:")[1].split()[0], 8),
                resource.prlimit(pid, resource.RLIMIT_NOFILE)[0])
    except (OSError, IndexError, ProcessLookupError):
        return None


@pytest.mark.slow
def test_the_child_takes_on_the_callers_umask_and_limits(project, served, tmp_path):
    process, _ = served
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def caller():  # as `umask 027; ulimit -S -n 321; dvc repro`
        os.umask(0o027)
        resource.setrlimit(resource.RLIMIT_NOFILE, (321, hard))

    profile = tmp_path / "profile.jsonl"
    for name in ("data/rounds/0/model.safetensors", "data/rounds/0/training.parquet"):
        (project / name).unlink(missing_ok=True)
    client = subprocess.Popen(["cartal", "train-seed", "0"], cwd=project, preexec_fn=caller,
                              env={**os.environ, "CARTAL_PROFILE": str(profile)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = set()
    while client.poll() is None:
        for child in process.children():
            settings = _umask_and_nofile(child.pid)
            if settings:
                seen.add(settings)
        time.sleep(0.01)
    assert client.returncode == 0, client.stderr.read()
    assert json.loads(profile.read_text())["warm"] is True
    assert (0o027, 321) in seen  # while it ran
    assert os.stat(project / "data/rounds/0/model.safetensors").st_mode & 0o777 == 0o640


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["nice", "affinity"])
def test_a_client_with_another_nice_value_or_affinity_runs_elsewhere(project, served, tmp_path, setting):
    if setting == "affinity" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: no other affinity to give")

    def caller():  # as `nice -n 5 dvc repro` or `taskset -c <first> dvc repro`
        if setting == "nice":
            os.nice(5)
        else:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    profile = tmp_path / "profile.jsonl"
    # CARTAL_WARM_IDLE: the worker this client starts for its own key exits soon
    result = stage(project, "check-params", preexec_fn=caller, CARTAL_PROFILE=str(profile), CARTAL_WARM_IDLE="5")
    assert result.returncode == 0, result.stderr
    assert json.loads(profile.read_text())["warm"] is False


# ------------------------------------------------------------------ DVC killed

@pytest.mark.slow
@pytest.mark.parametrize(("mode", "shell"), [("warm", "/bin/sh"), ("cold", "/bin/sh"), ("cold", "/bin/bash")])
def test_a_stage_command_stops_when_dvc_is_killed(project, served, tmp_path, monkeypatch, mode, shell):
    """DVC runs a stage's cmd with $SHELL -c (or /bin/sh -c): bash execs the command, dash stays its parent."""
    from dvc.stage.run import _make_cmd, get_executable

    if not os.path.exists(shell):
        pytest.skip(f"no {shell}")
    monkeypatch.setenv("SHELL", shell)
    process, _ = served
    params = yaml_with_epochs(project, tmp_path, 100000)  # a stage that runs for minutes
    command = _make_cmd(get_executable(), f"cartal train-seed 0 -p {params}")  # as DVC runs a stage's cmd
    env = {**os.environ, "DVC_STAGE": "rounds/0/dvc.yaml:train-seed", "CARTAL_WARM": "1" if mode == "warm" else "0"}
    dvc = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])", *command],
                           cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients = []
    try:
        deadline = time.monotonic() + 60
        while True:
            clients = [p for p in psutil.Process(dvc.pid).children(recursive=True)
                       if "train-seed" in " ".join(p.cmdline()) and p.name() not in ("sh", "dash", "bash")]
            started = process.children() if mode == "warm" else clients
            if clients and started:
                break
            assert time.monotonic() < deadline and dvc.poll() is None, "the stage did not start"
            time.sleep(0.1)
        time.sleep(2)  # well into the stage
        dvc.send_signal(signal.SIGKILL)
        dvc.wait()
        gone, alive = psutil.wait_procs(clients, timeout=20)
        assert not alive, "the stage command outlived DVC"
        if mode == "warm":
            gone, alive = psutil.wait_procs(process.children(), timeout=10)
            assert not alive, "the worker's child outlived DVC"
    finally:
        for leftover in clients:
            try:
                leftover.kill()
            except psutil.NoSuchProcess:
                pass


def yaml_with_epochs(project: Path, tmp_path: Path, epochs: int) -> Path:
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"]["epochs"] = epochs
    path = project / f"params-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path
