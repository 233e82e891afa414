"""The warm worker (cartal.warm): a stage it runs writes what a stage in its own process writes, byte for
byte; exit codes and messages come through; a killed client takes its child with it; a client whose
thread settings differ is not served by it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from cartal import provenance, warm
from cartal.cli import STAGES
from cartal.launch import STAGE_COMMANDS
from projects import embedded_project
from warm_workers import stop_workers

pytestmark = pytest.mark.slow
TRAIN_OUTPUTS = ("data/rounds/0/model.safetensors", "data/rounds/0/training.parquet")


def test_the_launcher_knows_every_stage_command():
    assert STAGE_COMMANDS == {name for name, *_ in STAGES}


@pytest.mark.parametrize("name, first, second", [
    ("OMP_NUM_THREADS", "1", "2"),
    ("ATEN_CPU_CAPABILITY", "default", "avx2"),  # torch's kernels: fixed once torch has loaded
    ("MKL_CBWR", "COMPATIBLE", "AVX2"),
    ("ONEDNN_MAX_CPU_ISA", "SSE41", "AVX2"),
])
def test_the_key_depends_on_the_settings_torch_reads_at_import(monkeypatch, name, first, second):
    monkeypatch.setenv(name, first)
    one = warm.worker_key()
    monkeypatch.setenv(name, second)
    assert warm.worker_key() != one
    monkeypatch.setenv(name, first)
    assert warm.worker_key() == one




@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    return embedded_project(tmp_path_factory.mktemp("warm-project"), shared_data)


@pytest.fixture
def worker(monkeypatch):
    """A worker of its own in a fresh folder, started and ready; stopped afterwards."""
    sockets = Path(tempfile.mkdtemp(prefix="cartal-warm-test-"))  # short: a socket's path has 107 bytes at most
    monkeypatch.setenv(warm.DIR_ENV, str(sockets))
    process = subprocess.Popen([sys.executable, "-m", "cartal.warm"], cwd="/", env=dict(os.environ))
    deadline = time.monotonic() + 120
    while not list(sockets.glob("*.sock")):
        assert process.poll() is None and time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    yield psutil.Process(process.pid)
    stop_workers(sockets)
    process.wait(timeout=30)
    shutil.rmtree(sockets, ignore_errors=True)


def stage(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["cartal", *args], cwd=project, env={**os.environ, **env}, capture_output=True, text=True)


def digests(project: Path) -> dict[str, str]:
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in TRAIN_OUTPUTS}


def test_a_stage_in_the_worker_writes_the_same_bytes_as_in_its_own_process(project, worker, tmp_path):
    own = stage(project, "train-seed", "0", CARTAL_WARM="0")
    assert own.returncode == 0, own.stderr
    expected = digests(project)
    for name in TRAIN_OUTPUTS:
        (project / name).unlink()
    profile = tmp_path / "profile.jsonl"
    served = stage(project, "train-seed", "0", CARTAL_PROFILE=str(profile))
    assert served.returncode == 0, served.stderr
    assert json.loads(profile.read_text())["warm"] is True  # it ran in a child of the worker
    assert digests(project) == expected
    line = "round 0 of 1: training on 40"
    assert line in own.stderr and line in served.stderr  # through the pipe


def test_a_failing_stage_in_the_worker_exits_1_with_its_message(project, worker):
    failed = stage(project, "evaluate", "7")
    assert failed.returncode == 1
    assert "error:" in failed.stderr and "data/rounds/7" in failed.stderr
    assert worker.is_running()  # the worker outlives its children's failures


def test_killing_the_client_stops_the_child(project, worker):
    client = subprocess.Popen(["cartal", "train-seed", "0", "-p", "params.yaml"], cwd=project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not worker.children():
        assert time.monotonic() < deadline and client.poll() is None, "no child started"
        time.sleep(0.05)
    client.send_signal(signal.SIGKILL)
    client.wait()
    gone, alive = psutil.wait_procs(worker.children(), timeout=10)
    assert not alive


def test_a_client_that_asks_for_another_instruction_set_gets_it(project, worker, tmp_path):
    """torch keeps the instruction set it loaded with, so the worker's children could not honour the client's."""
    features = [project / f"data/features/{split}.parquet" for split in ("train", "test")]
    kept = {path: path.read_bytes() for path in features}
    profile = tmp_path / "profile.jsonl"
    try:
        result = stage(project, "embed", ATEN_CPU_CAPABILITY="default", CARTAL_FEATURE_CACHE="off",
                       CARTAL_PROFILE=str(profile))
        assert result.returncode == 0, result.stderr
        assert json.loads(profile.read_text())["warm"] is False
        for path in features:
            (machine,) = provenance.read(path)
            assert machine["instructions"] == "DEFAULT" and machine["forced"] == {"ATEN_CPU_CAPABILITY": "default"}
    finally:
        for path, data in kept.items():
            path.write_bytes(data)


def test_a_client_with_other_thread_settings_runs_in_its_own_process(project, worker, tmp_path):
    profile = tmp_path / "profile.jsonl"
    # train-seed reads only what the project fixture made (evaluate also reads record-dynamics' outputs)
    result = stage(project, "train-seed", "0", OMP_NUM_THREADS="3", CARTAL_PROFILE=str(profile))
    assert result.returncode == 0, result.stderr
    assert json.loads(profile.read_text())["warm"] is False
