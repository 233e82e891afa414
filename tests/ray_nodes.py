"""A real Ray cluster of several nodes on this machine, on loopback only: `ray start --head` and `ray start
--address` in processes of their own, each node with its own temp folder and its own folder for the tasks' clones.

Ray turns 127.0.0.1 into the machine's network address (so that other machines could join) unless multi-node
clusters are switched off (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), and `ray start --address` refuses to join a
cluster when they are. So the head and the driver run with the switch off, and a joining node runs `ray start`
with it off as well except for `ray start`'s own refusal, which reads the switch through its module's name for
Ray's constants: that name is given the switch on. Every address Ray uses is then 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cartal.experiments.ray_executor import LOOPBACK_ENV, OBJECT_STORE_BYTES, WORKDIR_ENV

_JOIN = ("import sys, types\n"
         "import ray._private.ray_constants as constants\n"
         "import ray.scripts.scripts as scripts\n"
         "scripts.ray_constants = types.SimpleNamespace(**{**vars(constants), 'ENABLE_RAY_CLUSTER': True})\n"
         "sys.argv = ['ray', *sys.argv[1:]]\n"
         "sys.exit(scripts.main())\n")


@dataclass
class Node:
    process: subprocess.Popen
    log: Path
    clones: Path  # where this node's tasks clone the project (CARTAL_RAY_WORKDIR)
    temp: Path  # Ray's temp folder of the node (its sockets, its session's logs)

    def kill(self) -> None:
        """The node's `ray start`, raylet, workers and the tasks' commands: one process group."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # what a driver needs in its environment to reach the cluster: loopback, the token
    nodes: list[Node] = field(default_factory=list)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                os.killpg(node.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for node in self.nodes:
            try:
                node.process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(node.process.pid, signal.SIGKILL)  # what SIGTERM left (the group outlives its leader)
            except ProcessLookupError:
                pass
            shutil.rmtree(node.temp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(folder: Path, nodes: int = 2, cpus: int = 1) -> Cluster:
    """A head and ``nodes - 1`` nodes that join it, ``cpus`` CPUs each; returns once every node has started.
    Temp folders are short (a Unix socket's path has 107 bytes at most)."""
    port = free_port()
    # a token of the cluster's own (Ray's default for a new local cluster is one in ~/.ray, shared by every cluster)
    env = {LOOPBACK_ENV: "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex,
           "RAY_USAGE_STATS_ENABLED": "0"}
    cluster = Cluster(f"127.0.0.1:{port}", env)
    common = ["--block", "--num-cpus", str(cpus), "--disable-usage-stats", "--object-store-memory",
              str(OBJECT_STORE_BYTES)]
    try:
        for i in range(nodes):
            temp = tempfile.mkdtemp(prefix=f"ray{i}-", dir="/tmp")
            if i == 0:
                args = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", str(port),
                        "--node-ip-address", "127.0.0.1", "--include-dashboard=false", *common]
            else:
                args = [sys.executable, "-c", _JOIN, "start", "--address", cluster.address, *common]
            cluster.nodes.append(_start(args + ["--temp-dir", temp], folder / f"node{i}", env, Path(temp)))
            _wait_started(cluster.nodes[-1])
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start(args: list[str], folder: Path, cluster_env: dict[str, str], temp: Path) -> Node:
    folder.mkdir(parents=True)
    clones = folder / "clones"
    log = folder / "ray.log"
    env = {**os.environ, **cluster_env, WORKDIR_ENV: str(clones)}
    with open(log, "w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Node(process, log, clones, temp)


def _wait_started(node: Node, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = node.log.read_text()
        if "Ray runtime started" in text:
            return
        if node.process.poll() is not None:
            raise RuntimeError(f"ray start exited ({node.process.returncode}):\n{text[-3000:]}")
        time.sleep(1)
    raise RuntimeError(f"ray start did not start in {timeout} s:\n{node.log.read_text()[-3000:]}")
