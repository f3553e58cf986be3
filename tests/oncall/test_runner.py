"""The `make run` supervisor (oncall/runner.py): a process that dies is restarted, loudly."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall.runner import parse_procfile

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = f"{sys.executable} -c 'import time; time.sleep(600)'"


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[[str], tuple[subprocess.Popen[str], Path, Path]]]:
    started: list[subprocess.Popen[str]] = []

    def start(procfile: str) -> tuple[subprocess.Popen[str], Path, Path]:
        (tmp_path / "Procfile").write_text(procfile)
        log = tmp_path / "run.log"
        runner = subprocess.Popen(
            [sys.executable, "-m", "oncall.runner", str(tmp_path / "Procfile")],
            cwd=ROOT,
            env={**os.environ, "VAR_DIR": str(tmp_path / "var")},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(runner)
        return runner, log, tmp_path / "var" / "runner.json"

    yield start
    for runner in started:
        if runner.poll() is None:
            runner.kill()
            runner.wait()


def state(path: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(path.read_text())["processes"]
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def test_procfile_lines_are_parsed_in_order_and_a_bad_line_is_named() -> None:
    assert parse_procfile("# comment\nweb: serve $PORT\n\nworker: work -c 2\n") == [
        ("web", "serve $PORT"),
        ("worker", "work -c 2"),
    ]
    with pytest.raises(ValueError, match="line 2"):
        parse_procfile("web: serve\nnonsense\n")


def test_a_killed_process_is_restarted_loudly_and_the_others_keep_running(run) -> None:
    runner, log, state_file = run(f"web: {SLEEPER}\nworker: {SLEEPER}\n")
    wait_for(
        lambda: (
            all(p.get("running") for p in state(state_file).values())
            and len(state(state_file)) == 2
        )
    )
    web_pid = state(state_file)["web"]["pid"]
    worker_pid = state(state_file)["worker"]["pid"]

    os.kill(worker_pid, signal.SIGKILL)  # as the JSONDecodeError took the worker down

    wait_for(
        lambda: (
            state(state_file)["worker"]["restarts"] == 1 and state(state_file)["worker"]["running"]
        )
    )
    now = state(state_file)
    assert now["worker"]["pid"] != worker_pid
    assert now["worker"]["last_exit"] == -signal.SIGKILL
    assert now["web"]["pid"] == web_pid
    assert now["web"]["restarts"] == 0
    assert runner.poll() is None
    text = log.read_text()
    assert "worker STOPPED UNEXPECTEDLY (killed by SIGKILL)" in text
    assert "web keep running" in text
    assert text.count("!" * 78) == 2


def test_a_process_that_keeps_failing_is_retried_with_growing_pauses(run) -> None:
    runner, log, state_file = run(f"web: {SLEEPER}\nbroken: bash -c 'exit 3'\n")
    wait_for(lambda: state(state_file).get("broken", {}).get("restarts", 0) >= 3, timeout=30)
    text = log.read_text()
    assert "broken STOPPED UNEXPECTEDLY (exit code 3)" in text
    assert "Restarting it in 1 s (restart 1)" in text
    assert "Restarting it in 2 s (restart 2)" in text
    assert "Restarting it in 4 s (restart 3)" in text
    assert state(state_file)["web"]["restarts"] == 0
    assert runner.poll() is None


def test_sigterm_stops_every_process_and_restarts_none(run) -> None:
    runner, log, state_file = run(f"web: {SLEEPER}\nworker: {SLEEPER}\n")
    wait_for(
        lambda: (
            len(state(state_file)) == 2 and all(p["running"] for p in state(state_file).values())
        )
    )
    pids = [p["pid"] for p in state(state_file).values()]

    runner.send_signal(signal.SIGTERM)

    assert runner.wait(timeout=20) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "STOPPED UNEXPECTEDLY" not in log.read_text()
    assert all(p["restarts"] == 0 and not p["running"] for p in state(state_file).values())
