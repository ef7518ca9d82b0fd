"""Snapshot starts, the SnapStart idea: Init once, then start environments from that state.

On AWS, SnapStart runs a published version's Init once, snapshots the microVM's memory and
disk, and restores new execution environments from the snapshot instead of initialising each.
Locally the snapshot is a *template* process that ran Init (the workshop's runtime client in
``--template`` mode) and forks a copy of itself for every new environment: the copy starts with
the handler module already imported, as a restored microVM does. Fork is POSIX: on Windows
snapshot starts are not available.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


class ForkedProcess:
    """A restored environment's process: a child of the template, not of this process, so it
    is watched with signals rather than waited for (the template lets the kernel reap it)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1  # its exit status went to the template
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.005)
        return self.returncode or -1


class Snapshot:
    """The initialised template of one function version."""

    def __init__(self, command: list[str], handler: str, cwd: Path, env: dict[str, str]):
        answer_read, answer_write = os.pipe()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, "--template", str(answer_write), handler],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(answer_write,),
            start_new_session=True,
        )
        os.close(answer_write)
        self._answers = os.fdopen(answer_read, "r")
        self._lock = threading.Lock()
        self.init_ms = (time.perf_counter() - started) * 1000  # refined by the first restore

    def restore(self, env: dict[str, str], output: Path) -> ForkedProcess:
        """Fork a new environment from the template; its output goes to the FIFO ``output``."""
        if self.process.poll() is not None:
            raise RuntimeError("the snapshot's template process has ended (an init error?)")
        request = json.dumps({"env": env, "output": str(output)}) + "\n"
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(request.encode())
            self.process.stdin.flush()
            pid = int(self._answers.readline())
        return ForkedProcess(pid)

    def close(self) -> None:
        kill_session(self.process)
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self._answers):
            if stream is not None:
                stream.close()


def kill_session(process: subprocess.Popen | ForkedProcess) -> None:
    """SIGKILL a process started in a session of its own, and everything in that session."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def template_command() -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("runtime_client.py"))]
