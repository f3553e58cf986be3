"""Run the processes of a Procfile in the foreground and keep them running: `make run`.

Honcho (what `make run` used before) stops every process when one exits, so a worker that
died took web and beat down with it. Here a process that exits on its own is restarted with
a growing pause (1 s, 2 s, 4 s … at most 30 s; back to 1 s after a minute of good health),
and each restart is announced in a banner nobody can miss, with its exit code, while the
others keep running. `VAR_DIR/runner.json` records restarts, and /healthz reports them.
Ctrl-C or SIGTERM stops every process (SIGTERM, then SIGKILL after a grace period).

    python -m oncall.runner Procfile.dev
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
HEALTHY_AFTER = 60.0  # seconds up after which a restart starts again from the first pause
STOP_GRACE = 10.0
COLOURS = ("36", "33", "35", "32", "34", "31")


def parse_procfile(text: str) -> list[tuple[str, str]]:
    """`name: command` lines, in order; blank lines and comments are skipped."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not name.strip() or not command.strip():
            raise ValueError(f"Procfile line {number} is not 'name: command': {line!r}")
        entries.append((name.strip(), command.strip()))
    return entries


def clock() -> str:
    return datetime.now().astimezone().strftime("%H:%M:%S")


@dataclass
class Process:
    name: str
    command: str
    colour: str
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    pause: float = FIRST_PAUSE
    restart_at: float | None = None
    last_exit: int | None = None
    last_exit_at: str | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Runner:
    def __init__(
        self, entries: list[tuple[str, str]], *, out: IO[str], state_file: Path | None
    ) -> None:
        self.out = out
        self.state_file = state_file
        self.width = max(len(name) for name, _ in entries)
        self.processes = [
            Process(name, command, COLOURS[index % len(COLOURS)])
            for index, (name, command) in enumerate(entries)
        ]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.colour = out.isatty()

    # --- output ---------------------------------------------------------------------------
    def write(self, name: str, colour: str, line: str) -> None:
        prefix = f"{clock()} {name.ljust(self.width)} | "
        if self.colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.lock:
            self.out.write(prefix + line + "\n")
            self.out.flush()

    def say(self, line: str) -> None:
        self.write("runner", "1", line)

    def shout(self, lines: list[str]) -> None:
        bar = "!" * 78
        with self.lock:
            for line in [bar, *(f"!!! {text}" for text in lines), bar]:
                self.out.write((f"\033[1;31m{line}\033[0m" if self.colour else line) + "\n")
            self.out.flush()

    def pump(self, process: Process, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.write(process.name, process.colour, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    # --- processes ------------------------------------------------------------------------
    def start(self, process: Process) -> None:
        popen = subprocess.Popen(  # noqa: S602 - the Procfile is the developer's own
            f"exec {process.command}",
            shell=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            executable="/bin/bash",
        )
        process.popen = popen
        process.started = time.monotonic()
        process.restart_at = None
        assert popen.stdout is not None
        process.reader = threading.Thread(
            target=self.pump, args=(process, popen.stdout), daemon=True
        )
        process.reader.start()
        self.say(f"started {process.name} (pid {popen.pid})")
        self.save_state()

    def exited(self, process: Process, code: int) -> None:
        assert process.popen is not None
        if process.reader is not None:
            process.reader.join(timeout=2)  # its last lines first, then the banner
        process.popen = None
        process.last_exit = code
        process.last_exit_at = datetime.now(UTC).isoformat(timespec="seconds")
        if time.monotonic() - process.started >= HEALTHY_AFTER:
            process.pause = FIRST_PAUSE
        process.restarts += 1
        process.restart_at = time.monotonic() + process.pause
        how = f"exit code {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
        others = [p.name for p in self.processes if p is not process]
        self.shout(
            [
                f"{process.name} STOPPED UNEXPECTEDLY ({how}) at {clock()}.",
                f"Restarting it in {process.pause:g} s (restart {process.restarts}); "
                f"{' and '.join(others) or 'nothing else'} keep running.",
                "Its last lines are above.",
            ]
        )
        process.pause = min(process.pause * 2, LONGEST_PAUSE)
        self.save_state()

    def save_state(self) -> None:
        if self.state_file is None:
            return
        state = {
            "pid": os.getpid(),
            "processes": {
                p.name: {
                    "running": p.popen is not None,
                    "pid": p.popen.pid if p.popen else None,
                    "restarts": p.restarts,
                    "last_exit": p.last_exit,
                    "last_exit_at": p.last_exit_at,
                }
                for p in self.processes
            },
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.state_file)

    # --- the loop -------------------------------------------------------------------------
    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        for process in self.processes:
            self.start(process)
        while not self.stopping.wait(0.2):
            for process in self.processes:
                if process.popen is not None:
                    code = process.popen.poll()
                    # A Ctrl-C reaches the processes too; wait a moment before calling an
                    # exit a crash, so that a stop is never mistaken for one.
                    if code is not None and not self.stopping.wait(0.3):
                        self.exited(process, code)
                elif process.restart_at is not None and time.monotonic() >= process.restart_at:
                    self.start(process)
        self.stop()
        return 0

    def stop(self) -> None:
        self.say("stopping every process")
        running = [p.popen for p in self.processes if p.popen is not None]
        for popen in running:
            if popen.poll() is None:
                popen.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for popen in running:
            try:
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        for process in self.processes:
            if process.reader is not None:
                process.reader.join(timeout=2)
            process.popen = None
        self.save_state()
        self.say("stopped")


def metrics_dir_reset(path: Path) -> None:
    """Empty the Prometheus folder before the processes start: counters restart at 0 rather
    than summing files of processes long gone, whose pids a new process may reuse."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m oncall.runner PROCFILE", file=sys.stderr)
        return 2
    entries = parse_procfile(Path(argv[1]).read_text())
    # The same folder as settings.VAR_DIR, without loading Django here.
    var_dir = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    # Web, worker and beat share one Prometheus folder, so /metrics counts the worker's pages.
    metrics_dir = Path(
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(var_dir / "prometheus"))
    )
    try:
        metrics_dir_reset(metrics_dir)
    except OSError as error:  # counting in memory, per process, beats not starting
        print(f"runner: metrics folder {metrics_dir} unusable ({error})", file=sys.stderr)
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    return Runner(entries, out=sys.stdout, state_file=var_dir / "runner.json").run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
