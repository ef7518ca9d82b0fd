"""One Lambda execution environment: a process running a runtime client, and its Runtime API.

On AWS an execution environment is a Firecracker microVM; here it is an operating-system
process started as ``python -m awslambdaric <handler>`` in the function's code directory (or
our own small runtime client where awslambdaric has no wheels). Its life is AWS's: Init (the
runtime starts and imports the handler module, measured), then invocations one at a time, then
shutdown. Everything the process prints is captured, line by line, for the function's logs.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from workshop.local.runtime_api import Delivery, Retired, RuntimeApiServer
from workshop.local.snapshot import Snapshot, kill_session


def runtime_client() -> list[str]:
    """The command that starts a runtime client: AWS's where installed, else ours.

    Ours runs as a script, not as ``-m workshop...``: importing the workshop package (boto3,
    moto) would add a quarter of a second to every cold start.
    """
    if os.environ.get("WORKSHOP_RUNTIME_CLIENT") != "workshop":
        try:
            import awslambdaric  # noqa: F401 (only asking whether it is there)
        except ImportError:
            pass
        else:
            return [sys.executable, "-m", "awslambdaric"]
    return [sys.executable, str(Path(__file__).with_name("runtime_client.py"))]


def runtime_client_name() -> str:
    """Which runtime client new environments run, in words (notebook 05 shows it)."""
    command = runtime_client()
    return (
        "awslambdaric (AWS's runtime interface client)"
        if "awslambdaric" in command
        else ("the workshop's runtime client (awslambdaric has no wheels for this platform)")
    )


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment needs to know about the function version it runs."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    code_dir: Path
    memory_mb: int
    timeout_s: float
    variables: dict[str, str]
    region: str
    endpoint_url: str | None = None


@dataclass
class Outcome:
    """How one invocation ended, as the invoke caller needs it."""

    payload: bytes
    error: str | None  # None, "Unhandled"
    duration_ms: float
    init_ms: float | None  # only on the invocation that followed Init
    max_memory_mb: int
    log_lines: list[str] = field(default_factory=list)
    environment_ended: bool = False


class EnvironmentDied(Exception):
    """The process ended before it received the event: the event can go elsewhere."""


class Environment:
    """A process and its Runtime API; :meth:`invoke` runs one event at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        log_stream: str,
        *,
        provisioned: bool = False,
        snapshot: Snapshot | None = None,
    ):
        self.spec = spec
        self.provisioned = provisioned
        """Initialised ahead of traffic: kept however long it idles, Init never reported."""
        self.restored = snapshot is not None
        """Started from a snapshot: its first REPORT line has a Restore Duration, no Init."""
        self.id = uuid.uuid4().hex[:12]
        self.log_stream = log_stream
        self._inbox: queue.Queue[Delivery] = queue.Queue()
        self._answers: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self._ready = threading.Event()
        self._retired = threading.Event()
        self._init_error: bytes | None = None
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self.created = time.monotonic()
        self.last_used = self.created
        self.invocations = 0
        self.init_ms: float | None = None
        self._init_reported = (
            provisioned  # its Init ran before any request, and is not billed to one
        )
        # Each environment has a /tmp of its own, as on AWS; code finds it through TMPDIR
        # (tempfile.gettempdir()), since a process here cannot be given its own /tmp.
        self.tmp = Path(tempfile.mkdtemp(prefix=f"env-{self.id}-"))
        # Set before the runtime starts: a fast one may ask for its first event at once.
        self._started = time.perf_counter()
        self._api = RuntimeApiServer(self)
        if snapshot is not None:
            output = self.tmp / ".output"
            os.mkfifo(output)
            self.process = snapshot.restore(self._environment(), output)
            reader = self._read_fifo
        else:
            self.process = subprocess.Popen(
                [*runtime_client(), spec.handler],
                cwd=spec.code_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the notebook is not the function's
            )
            reader = self._read_output
        threading.Thread(target=reader, name="lambda-env-output", daemon=True).start()

    # --- Init ------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        kind = "provisioned-concurrency" if self.provisioned else "on-demand"
        return function_environment(
            self.spec,
            runtime_api=self._api.address,
            log_stream=self.log_stream,
            tmp=self.tmp,
            initialization_type="snap-start" if self.restored else kind,
        )

    def wait_ready(self, timeout: float) -> None:
        """Wait for Init to end (the first ``/next``); raise if it failed or took too long."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.005):
            if self._init_error is not None or self.process.poll() is not None:
                break
            if time.monotonic() > deadline:
                break
        if not self._ready.is_set():
            self.retire()
            raise EnvironmentDied("init failed")

    @property
    def init_error(self) -> bytes | None:
        return self._init_error

    # --- RuntimeListener -----------------------------------------------------------------

    def next_delivery(self) -> Delivery | None:
        if not self._ready.is_set():
            self.init_ms = (time.perf_counter() - self._started) * 1000
            self._ready.set()
        if self._retired.is_set():
            raise Retired
        try:
            return self._inbox.get(timeout=0.5)
        except queue.Empty:
            return None

    def delivered(self, delivery: Delivery) -> None:
        delivery.handed_over.set()

    def finished(self, request_id: str, body: bytes, *, error: bool) -> None:
        self._answers.put((request_id, body, error))

    def init_failed(self, body: bytes) -> None:
        self._init_error = body

    # --- invoking --------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Init has ended: the runtime client asked for its first event."""
        return self._ready.is_set()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self._retired.is_set()

    def invoke(self, request_id: str, payload: bytes) -> Outcome:
        """Run one event; the caller holds this environment for the whole call."""
        spec = self.spec
        self.invocations += 1
        with self._lines_lock:
            self._lines = []
        deadline = time.time() + spec.timeout_s
        delivery = Delivery(request_id, payload, int(deadline * 1000), spec.arn)
        self._inbox.put(delivery)
        while not delivery.handed_over.wait(0.005):
            if not self.alive:
                self.retire()
                raise EnvironmentDied("the process ended before it took the event")
        started = delivery.sent_at
        timeout_at = started + spec.timeout_s
        answer = None
        ticks = 0
        while answer is None:
            try:
                answer = self._answers.get(timeout=0.005)
            except queue.Empty:
                ticks += 1
                if self.process.poll() is not None:
                    return self._ended(request_id, started, self._exit_error(request_id))
                if time.perf_counter() > timeout_at:
                    return self._ended(request_id, started, _timed_out(request_id, spec))
                if ticks % 4 == 0 and self._proc_mb("VmRSS") > spec.memory_mb:
                    return self._ended(request_id, started, _out_of_memory(request_id))
                continue
            if answer[0] != request_id:
                answer = None  # a late answer to an earlier, timed-out event
        duration = (time.perf_counter() - started) * 1000
        self.last_used = time.monotonic()
        if self.max_memory_mb() > spec.memory_mb:
            # The peak went over the memory size between two looks: on AWS the kernel would
            # have killed the process at that moment, so the invocation fails all the same.
            return self._ended(request_id, started, _out_of_memory(request_id))
        _, body, failed = answer
        return Outcome(
            payload=body,
            error="Unhandled" if failed else None,
            duration_ms=duration,
            init_ms=self._take_init(),
            max_memory_mb=self.max_memory_mb(),
            log_lines=self.take_lines(),
        )

    def _ended(self, request_id: str, started: float, payload: dict) -> Outcome:
        """The invocation ended with the process (a timeout, a crash, out of memory)."""
        peak = self.max_memory_mb()
        self.retire()
        return Outcome(
            payload=json.dumps(payload).encode(),
            error="Unhandled",
            duration_ms=(time.perf_counter() - started) * 1000,
            init_ms=self._take_init(),
            max_memory_mb=peak,
            log_lines=self.take_lines(),
            environment_ended=True,
        )

    def _exit_error(self, request_id: str) -> dict:
        code = self.process.wait()
        if code < 0:
            reason = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        else:
            reason = f"exit status {code}"
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
        }

    def _take_init(self) -> float | None:
        if self._init_reported:
            return None
        self._init_reported = True
        return self.init_ms

    # --- output and resources ----------------------------------------------------------------

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        try:
            for raw in self.process.stdout:
                with self._lines_lock:
                    self._lines.append(raw.decode(errors="replace").rstrip("\n"))
        except (ValueError, OSError):
            pass  # the pipe was closed when the environment was retired

    def _read_fifo(self) -> None:
        """A restored environment writes to a FIFO (it is the template's child, not ours)."""
        fd = os.open(self.tmp / ".output", os.O_RDONLY | os.O_NONBLOCK)
        pending = b""
        try:
            while not self._retired.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                chunk = os.read(fd, 65536) if ready else b""
                if not chunk:
                    time.sleep(0.01)
                    continue
                *complete, pending = (pending + chunk).split(b"\n")
                with self._lines_lock:
                    self._lines += [line.decode(errors="replace") for line in complete]
        finally:
            os.close(fd)

    def take_lines(self) -> list[str]:
        time.sleep(0.001)  # let the reader catch the handler's last line
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return lines

    def max_memory_mb(self) -> int:
        """Peak resident memory of the process (VmHWM), as Lambda's Max Memory Used."""
        peak = self._proc_mb("VmHWM")
        return max(1, round(peak)) if peak else 0

    def rss_mb(self) -> float:
        """Resident memory now (VmRSS), in MiB."""
        return self._proc_mb("VmRSS")

    def _proc_mb(self, field_name: str) -> float:
        """A memory figure of the process from /proc (Linux; 0 elsewhere), in MiB."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def retire(self) -> None:
        """Shut the environment down: kill the process, stop its Runtime API."""
        if self._retired.is_set():
            return
        self._retired.set()
        kill_session(self.process)
        self.process.wait(timeout=5)
        stdout = getattr(self.process, "stdout", None)
        if stdout is not None:
            stdout.close()
        self._api.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def function_environment(
    spec: FunctionSpec,
    *,
    runtime_api: str,
    log_stream: str,
    tmp: Path,
    initialization_type: str,
) -> dict[str, str]:
    """The environment variables of an execution environment: Lambda's standard ones, the
    function's own, and how to reach the backend. Nothing is inherited from the kernel but
    PATH, as on AWS, where the function sees only what Lambda sets."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(spec.code_dir),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "TMPDIR": str(tmp),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        # As Lambda injects its role's credentials: throw-away ones for the local cloud.
        "AWS_ACCESS_KEY_ID": "workshop-lambda",
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
        "AWS_SESSION_TOKEN": uuid.uuid4().hex,
    }
    if spec.endpoint_url:
        env["AWS_ENDPOINT_URL"] = spec.endpoint_url
    env.update({str(k): str(v) for k, v in spec.variables.items()})
    return env


def _out_of_memory(request_id: str) -> dict:
    return {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }


def _timed_out(request_id: str, spec: FunctionSpec) -> dict:
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
        f"{spec.timeout_s:.2f} seconds",
    }
