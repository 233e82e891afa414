"""A real Label Studio server for the tests marked ``label_studio``, and plain HTTP calls to its API.

``CARTAL_LABEL_STUDIO`` names the ``label-studio`` executable of a virtualenv of its own
(``export CARTAL_LABEL_STUDIO=$(.ci/label-studio.sh | tail -1)``); without it the tests that use a server are
skipped. ``CARTAL_LABEL_STUDIO_TIMEOUT`` (seconds, default 120) bounds the wait for its start. Shared by
tests/test_label_studio.py (files carried by hand) and tests/test_label_studio_live.py (cartal's own client).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

TOKEN = "cartal-test-token-0123456789"
USER = "cartal@example.com"
PASSWORD = "cartal-test-password"
# Settings Label Studio reads from the environment under these plain names too (HOST, PORT, ...):
# a stray one in the caller's environment would change the server under test.
UNSET = ("HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DJANGO_DB", "DATABASE_NAME", "BASE_DATA_DIR",
         "DEBUG", "SECRET_KEY", "DISABLE_SIGNUP_WITHOUT_LINK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabelStudio:
    """A Label Studio server of the test's own, and HTTP calls to its API with a legacy token."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    def call(self, method: str, path: str, body=None, timeout: float = 60):
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            pytest.fail(f"Label Studio: {method} {path} answered {error.code}: {error.read()[:1000]!r}")


@pytest.fixture
def label_studio(tmp_path):
    """A Label Studio server of the test's own, in a fresh data dir; stopped after the test."""
    with running_label_studio(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def label_studio_for_module(tmp_path_factory):
    """One Label Studio server for every test of a module (a start takes up to a minute on busy cores)."""
    with running_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server


@contextmanager
def running_label_studio(tmp_path: Path):
    """Start ``$CARTAL_LABEL_STUDIO start`` on a free localhost port in a fresh data dir under ``tmp_path``;
    stop it after."""
    executable = os.environ.get("CARTAL_LABEL_STUDIO")
    if not executable:
        pytest.skip("CARTAL_LABEL_STUDIO is not set: point it at a label-studio executable, "
                    "e.g. export CARTAL_LABEL_STUDIO=$(.ci/label-studio.sh | tail -1)")
    if not os.access(executable, os.X_OK):
        pytest.fail(f"CARTAL_LABEL_STUDIO={executable} is not an executable file; "
                    "run .ci/label-studio.sh and export the path it prints last")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABEL_STUDIO_", "HEARTEX_")) and k not in UNSET}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls-data"),
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",  # no call to PyPI at start
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_SENTRY_DSN": "",  # no error reports sent out
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
        "PYTHONUNBUFFERED": "1",
    })
    port = _free_port()
    # Legacy API tokens are off by default since 1.18: --enable-legacy-api-token turns them on for the
    # organization created at this first start, and --user-token sets the token of the user it creates.
    command = [executable, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
               "--username", USER, "--password", PASSWORD, "--user-token", TOKEN,
               "--enable-legacy-api-token"]
    log = tmp_path / "label-studio.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # A first start migrates a fresh SQLite database: 25 s on an idle machine, a minute on 2 busy cores.
        wait = float(os.environ.get("CARTAL_LABEL_STUDIO_TIMEOUT", 120))
        started, deadline = time.monotonic(), time.monotonic() + wait
        while True:
            if process.poll() is not None:
                pytest.fail(f"Label Studio exited with {process.returncode} before it was ready:\n"
                            + log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Label Studio not ready on {url} after {wait:.0f} s "
                            "(CARTAL_LABEL_STUDIO_TIMEOUT sets the wait):\n"
                            + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        print(f"Label Studio ready on {url} after {time.monotonic() - started:.1f} s")
        yield LabelStudio(process, url, log)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
