"""CARTAL_PROFILE: the record a stage appends, and a process start time without psutil's whole-second error."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from cartal.profiling import counts_as_io, process_created, stage_profile


@pytest.mark.integration
def test_a_process_start_time_is_a_moment_before_its_first_line():
    code = ("import time; now = time.time(); from cartal.profiling import process_created; "
            "print(now - process_created())")
    startup = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True).stdout)
    assert 0 <= startup < 2  # psutil's boot time in whole seconds can be off by up to 1 s either way
    assert process_created() < time.time()


def test_a_stage_appends_one_record_with_its_io_and_work(tmp_path, monkeypatch):
    profile = tmp_path / "profile.jsonl"
    monkeypatch.setenv("CARTAL_PROFILE", str(profile))

    @counts_as_io
    def read():
        time.sleep(0.05)

    with stage_profile("build-map@3"):
        read()
        time.sleep(0.02)
    with pytest.raises(RuntimeError), stage_profile("select@3"):
        raise RuntimeError("refused")
    first, second = (json.loads(line) for line in profile.read_text().splitlines())
    assert first["stage"] == "build-map@3" and first["ok"] and not first["warm"]
    assert first["io_s"] >= 0.05 and first["work_s"] >= 0.02 and first["startup_s"] > 0
    assert second["stage"] == "select@3" and second["ok"] is False
