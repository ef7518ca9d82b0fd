"""Lambda's data plane on the local backend: Invoke runs the function's code.

moto keeps the functions (create, update, configure, delete, versions); this module answers
``Invoke`` by running the code in execution environments (:mod:`workshop.local.environment`),
never in Docker. The lifecycle is AWS's: an environment is created on demand (a cold start,
with Init measured), reused while warm, one invocation at a time; concurrent calls get more
environments up to the reserved concurrency and a local ceiling, beyond which Invoke is
throttled with AWS's 429; idle environments retire after a keep-alive; and a change to the
code or configuration retires the old ones, as on AWS.

Every invocation leaves START, END and REPORT lines in AWS's format, with the function's own
output, in CloudWatch Logs (``/aws/lambda/<name>``, one stream per environment).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import queue
import re
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from workshop.local.environment import (
    Environment,
    EnvironmentDied,
    FunctionSpec,
    Outcome,
    function_environment,
)
from workshop.local.moto_state import MotoLambda
from workshop.local.snapshot import Snapshot, template_command
from workshop.local.wsgi import Answer, WsgiApp, call, json_answer, read_body

LOCAL_CEILING = int(os.environ.get("WORKSHOP_LAMBDA_MAX_ENVIRONMENTS", "32"))
"""Environments per function at most, whatever the reserved concurrency (a laptop's limit)."""
KEEP_ALIVE_S = float(os.environ.get("WORKSHOP_LAMBDA_KEEP_ALIVE", "60"))
"""Seconds an idle environment is kept warm (AWS does not publish its own; it varies)."""
INIT_LIMIT_S = 10.0  # AWS limits Init to 10 s
TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB of the invocation's log
_CONFIG_PATH = re.compile(
    r"^/2015-03-31/functions/?(?P<name>[^/]*)(?P<tail>/configuration|/versions)?/?$"
)


class Throttled(Exception):
    """No environment may start: the reserved concurrency or the local ceiling is reached."""


class LambdaError(Exception):
    """An error Invoke answers with a status code, in AWS's shape."""

    def __init__(self, status: int, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra

    def answer(self) -> Answer:
        return _error(self.status, self.code, str(self), self.extra)


@dataclass
class Invocation:
    """A finished synchronous invocation."""

    request_id: str
    payload: bytes
    error: str | None
    """``"Unhandled"`` when the function failed (Invoke's ``X-Amz-Function-Error``), else None."""
    version: str
    log_text: str
    outcome: Outcome


@dataclass
class Pool:
    """The environments of one function version with one code and configuration."""

    revision: str
    spec: FunctionSpec
    idle: list[Environment] = field(default_factory=list)
    busy: int = 0
    environments: list[Environment] = field(default_factory=list)
    provisioned: int = 0
    provisioned_at: datetime | None = None
    snap_start: bool = False
    """SnapStart is on for this published version: new environments are restored by forking
    :attr:`snapshot`, the process that ran Init once."""
    snapshot: Snapshot | None = None


class LambdaService:
    def __init__(self, endpoint_url: str | None = None):
        self.endpoint_url = endpoint_url
        self._pools: dict[tuple[str, str, str], Pool] = {}
        self._lock = threading.Lock()
        self._code_root = Path(tempfile.mkdtemp(prefix="workshop-lambda-"))
        self._snap_start: dict[tuple[str, str], str] = {}
        self._logs: queue.Queue[tuple[MotoLambda, str, str, list[dict]] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._ship_logs, name="lambda-logs", daemon=True),
            threading.Thread(target=self._reap, name="lambda-keep-alive", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- the Invoke API --------------------------------------------------------------------

    def invoke(self, path_name: str, environ: dict[str, Any], region: str, account: str) -> Answer:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        qualifier = query.get("Qualifier", [None])[0]
        payload = read_body(environ)
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        try:
            if kind == "DryRun":
                self.function(unquote(path_name), qualifier, region, account)
                return "204 No Content", [("x-amzn-RequestId", str(uuid.uuid4()))], b""
            if kind == "Event":
                request_id = self.call_async(
                    unquote(path_name), payload, region, account, qualifier
                )
                return "202 Accepted", [("x-amzn-RequestId", request_id)], b""
            result = self.call(unquote(path_name), payload, region, account, qualifier)
        except LambdaError as error:
            return error.answer()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", result.request_id),
            ("X-Amz-Executed-Version", result.version),
        ]
        if result.error:
            headers.append(("X-Amz-Function-Error", result.error))
        if environ.get("HTTP_X_AMZ_LOG_TYPE") == "Tail":
            tail = result.log_text.encode()[-TAIL_BYTES:]
            headers.append(("X-Amz-Log-Result", base64.b64encode(tail).decode()))
        return "200 OK", headers, result.payload

    def function(
        self, name: str, qualifier: str | None, region: str, account: str
    ) -> tuple[MotoLambda, dict, bytes]:
        """The function's configuration and code; raise AWS's 404 if there is none."""
        moto = MotoLambda(account, region)
        found = moto.function(name, qualifier)
        if found is None:
            arn = (
                name
                if name.startswith("arn:")
                else f"arn:aws:lambda:{region}:{account}:function:{name}"
            )
            raise LambdaError(404, "ResourceNotFoundException", f"Function not found: {arn}")
        return moto, *found

    def call(
        self,
        name: str,
        payload: bytes,
        region: str,
        account: str,
        qualifier: str | None = None,
    ) -> Invocation:
        """Run one synchronous invocation (the data plane's own entry point: Invoke, HTTP APIs
        and event source mappings all come through here). Raise :class:`LambdaError` for what
        Invoke answers with an error status (not found, bad payload, throttled)."""
        self._refuse_when_closed()
        moto, configuration, code = self.function(name, qualifier, region, account)
        _check_payload(payload)
        pool = self._pool(moto, configuration, code, region)
        request_id = str(uuid.uuid4())
        try:
            outcome, log_text = self._run(moto, pool, request_id, payload)
        except Throttled as throttled:
            by_reserved = bool(throttled.args and throttled.args[0])
            reason = (
                "ReservedFunctionConcurrentInvocationLimitExceeded"
                if by_reserved
                else "ConcurrentInvocationLimitExceeded"  # the local ceiling, as an account's
            )
            raise LambdaError(
                429, "TooManyRequestsException", "Rate Exceeded.", {"Reason": reason}
            ) from None
        return Invocation(
            request_id, outcome.payload, outcome.error, pool.spec.version, log_text, outcome
        )

    def _refuse_when_closed(self) -> None:
        """A call that arrives while the local cloud stops must not start a new environment
        that nothing would stop."""
        if self._stopping.is_set():
            raise LambdaError(503, "ServiceException", "The local cloud is stopping.")

    def call_async(
        self, name: str, payload: bytes, region: str, account: str, qualifier: str | None = None
    ) -> str:
        """Queue an Event invocation; return its request id."""
        self._refuse_when_closed()
        moto, configuration, code = self.function(name, qualifier, region, account)
        _check_payload(payload)
        pool = self._pool(moto, configuration, code, region)
        request_id = str(uuid.uuid4())
        threading.Thread(
            target=self._run_async,
            args=(moto, pool, request_id, payload),
            name="lambda-event",
            daemon=True,
        ).start()
        return request_id

    # --- environments ------------------------------------------------------------------------

    def _pool(self, moto: MotoLambda, configuration: dict, code: bytes, region: str) -> Pool:
        """The pool for this version's current code and configuration; older pools of the same
        version retire (this is how a configuration change forces a cold start)."""
        revision = hashlib.sha256(
            json.dumps(
                {
                    k: configuration.get(k)
                    for k in (
                        "CodeSha256",
                        "Handler",
                        "Runtime",
                        "MemorySize",
                        "Timeout",
                        "Environment",
                    )
                },
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]
        key = (region, configuration["FunctionArn"], configuration.get("Version", "$LATEST"))
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None and pool.revision == revision:
                return pool
            old, pool = pool, Pool(revision, self._spec(configuration, code, region))
            pool.snap_start = self.snap_start_on(region, pool.spec.name, pool.spec.version)
            self._pools[key] = pool
        if old is not None:
            self._retire_pool(old)
        return pool

    def _spec(self, configuration: dict, code: bytes, region: str) -> FunctionSpec:
        code_dir = self._code_root / configuration["CodeSha256"].replace("/", "_")[:40]
        if not code_dir.exists():
            staging = Path(tempfile.mkdtemp(dir=self._code_root))
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(staging)
            try:
                staging.rename(code_dir)
            except OSError:  # another thread unpacked the same code first
                shutil.rmtree(staging, ignore_errors=True)
        variables = (configuration.get("Environment") or {}).get("Variables") or {}
        return FunctionSpec(
            name=configuration["FunctionName"],
            arn=configuration["FunctionArn"],
            version=configuration.get("Version", "$LATEST"),
            handler=configuration["Handler"],
            runtime=configuration.get("Runtime") or "python3.12",
            code_dir=code_dir,
            memory_mb=int(configuration.get("MemorySize") or 128),
            timeout_s=float(configuration.get("Timeout") or 3),
            variables=dict(variables),
            region=region,
            endpoint_url=self.endpoint_url,
        )

    def _acquire(self, pool: Pool, reserved: int | None) -> Environment | str | None:
        """An idle environment, or "cold" if a new one may start, or None if throttled.

        Concurrency is the number of invocations running at once: reserved concurrency caps
        it (0 stops the function), and the local ceiling caps the environments.
        """
        limit = LOCAL_CEILING if reserved is None else min(int(reserved), LOCAL_CEILING)
        with self._lock:
            if pool.busy >= limit:
                return None
            while pool.idle:
                environment = pool.idle.pop()
                if environment.alive:
                    pool.busy += 1
                    return environment
                pool.environments.remove(environment)
            if len(pool.environments) >= LOCAL_CEILING:
                return None
            pool.busy += 1
            return "cold"

    def _cold_start(self, pool: Pool, *, provisioned: bool = False) -> Environment:
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{pool.spec.version}]{uuid.uuid4().hex}"
        snapshot = self._snapshot(pool) if pool.snap_start else None
        environment = Environment(pool.spec, stream, provisioned=provisioned, snapshot=snapshot)
        with self._lock:
            stopping = self._stopping.is_set()
            if not stopping:
                pool.environments.append(environment)
        if stopping:  # close() has already retired the environments it knows of
            environment.retire()
            self._refuse_when_closed()
        return environment

    def _release(self, pool: Pool, environment: Environment | None) -> None:
        with self._lock:
            pool.busy -= 1
            if environment is None:
                return
            if environment.alive and self._pools.get(self._key_of(pool)) is pool:
                pool.idle.append(environment)
                return
            if environment in pool.environments:
                pool.environments.remove(environment)
        environment.retire()

    def _key_of(self, pool: Pool) -> tuple[str, str, str]:
        return (pool.spec.region, pool.spec.arn, pool.spec.version)

    # --- running an invocation -------------------------------------------------------------

    def _run(
        self, moto: MotoLambda, pool: Pool, request_id: str, payload: bytes
    ) -> tuple[Outcome, str]:
        """Run one event to its outcome and log text; raise :class:`Throttled`."""
        configuration = moto.function(pool.spec.arn, pool.spec.version)
        reserved = configuration[0].get("ReservedConcurrentExecutions") if configuration else None
        for _attempt in range(3):  # an environment that died idle gives the event to another
            got = self._acquire(pool, reserved)
            if got is None:
                raise Throttled(reserved is not None and pool.busy >= int(reserved))
            environment: Environment | None = None
            try:
                if got == "cold":
                    environment = self._cold_start(pool)
                    try:
                        environment.wait_ready(INIT_LIMIT_S)
                    except EnvironmentDied:
                        outcome = _init_failure(environment)
                        return outcome, self._log(moto, environment, request_id, outcome)
                else:
                    environment = got  # type: ignore[assignment]
                try:
                    outcome = environment.invoke(request_id, payload)
                except EnvironmentDied:
                    continue
                return outcome, self._log(moto, environment, request_id, outcome)
            finally:
                self._release(pool, environment)
        outcome = Outcome(
            json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited without "
                    "providing a reason",
                }
            ).encode(),
            "Unhandled",
            0.0,
            None,
            0,
        )
        return outcome, ""

    def _run_async(self, moto: MotoLambda, pool: Pool, request_id: str, payload: bytes) -> None:
        """An Event invocation: Lambda queues it and retries throttles; so do we, bounded."""
        deadline = time.monotonic() + 60
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                self._run(moto, pool, request_id, payload)
            except Throttled:
                time.sleep(0.05)
            else:
                return

    # --- logs ------------------------------------------------------------------------------

    def _log(
        self, moto: MotoLambda, environment: Environment, request_id: str, outcome: Outcome
    ) -> str:
        """The invocation's log as Lambda writes it; shipped to CloudWatch Logs in the
        background, returned for LogType=Tail."""
        spec = environment.spec
        restore = outcome.init_ms if environment.restored else None
        init = None if environment.restored else outcome.init_ms
        billed = math.ceil(outcome.duration_ms + (init or 0))  # Init is billed since 2025-08
        # On AWS the kernel stops a process at its memory size; here the check comes a moment
        # late, so the peak it saw may overshoot: report the size, where AWS would stop it.
        used = min(outcome.max_memory_mb, spec.memory_mb)
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {used} MB"
        )
        if init is not None:
            report += f"\tInit Duration: {init:.2f} ms"
        if restore is not None:
            report += (
                f"\tRestore Duration: {restore:.2f} ms"
                f"\tBilled Restore Duration: {math.ceil(restore)} ms"
            )
        first = []
        if outcome.init_ms is not None:  # a new environment: AWS first names the runtime
            runtime = spec.runtime.replace("python", "python:")
            first.append(
                f"INIT_START Runtime Version: {runtime}.local\tRuntime Version ARN: "
                f"arn:aws:lambda:{spec.region}::runtime:local-{spec.runtime}"
            )
        lines = [
            *first,
            f"START RequestId: {request_id} Version: {spec.version}",
            *outcome.log_lines,
            f"END RequestId: {request_id}",
            report,
        ]
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        self._logs.put((moto, f"/aws/lambda/{spec.name}", environment.log_stream, events))
        return "\n".join(lines) + "\n"

    def _ship_logs(self) -> None:
        while True:
            item = self._logs.get()
            if item is None:
                return
            moto, group, stream, events = item
            try:
                moto.put_logs(group, stream, events)
            except Exception:  # a deleted function's group, say: logs are best effort
                continue

    def flush_logs(self, timeout: float = 5.0) -> None:
        """Wait until every log line so far is in CloudWatch Logs (tests and notebooks)."""
        deadline = time.monotonic() + timeout
        while not self._logs.empty() and time.monotonic() < deadline:
            time.sleep(0.01)

    # --- provisioned concurrency ----------------------------------------------------------

    def provisioned_concurrency(
        self, method: str, path_name: str, environ: dict[str, Any], region: str, account: str
    ) -> Answer:
        """Put, get or delete a version's provisioned concurrency (moto has none of it)."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        qualifier = query.get("Qualifier", [None])[0]
        name = unquote(path_name)
        if not qualifier or qualifier == "$LATEST":
            return _error(
                400,
                "InvalidParameterValueException",
                "Provisioned Concurrency Configs cannot be applied to unpublished "
                "function versions.",
            )
        moto = MotoLambda(account, region)
        found = moto.function(name, qualifier)
        if found is None:
            return _error(
                404, "ResourceNotFoundException", f"Function not found: {name}:{qualifier}"
            )
        configuration, code = found
        pool = self._pool(moto, configuration, code, region)
        if method == "PUT" and pool.snap_start:
            return _error(
                400,
                "InvalidParameterValueException",
                "Provisioned Concurrency Configs cannot be applied to a function "
                "version with SnapStart enabled.",
            )
        if method == "PUT":
            request = json.loads(read_body(environ) or b"{}")
            wanted = int(request.get("ProvisionedConcurrentExecutions", 0))
            if not 1 <= wanted <= LOCAL_CEILING:
                return _error(
                    400,
                    "InvalidParameterValueException",
                    f"ProvisionedConcurrentExecutions must be between 1 and "
                    f"{LOCAL_CEILING} on the local backend.",
                )
            pool.provisioned = wanted
            pool.provisioned_at = datetime.now(UTC)
            threading.Thread(
                target=self._provision, args=(pool,), daemon=True, name="lambda-provision"
            ).start()
            return json_answer(202, _provisioned_state(pool, "IN_PROGRESS"))
        if not pool.provisioned:
            return _error(
                404,
                "ProvisionedConcurrencyConfigNotFoundException",
                "No Provisioned Concurrency Config found for this function",
            )
        if method == "DELETE":
            pool.provisioned = 0
            with self._lock:
                for environment in pool.environments:
                    environment.provisioned = False  # ordinary now: the keep-alive applies
            return "204 No Content", [("x-amzn-RequestId", str(uuid.uuid4()))], b""
        with self._lock:
            ready = sum(e.provisioned and e.ready and e.alive for e in pool.environments)
        return json_answer(
            200,
            _provisioned_state(
                pool, "READY" if ready >= pool.provisioned else "IN_PROGRESS", ready
            ),
        )

    def _provision(self, pool: Pool) -> None:
        """Initialise environments ahead of traffic until the pool has as many as asked."""
        with self._lock:
            have = sum(e.provisioned and e.alive for e in pool.environments)
        for _ in range(pool.provisioned - have):
            environment = self._cold_start(pool, provisioned=True)
            try:
                environment.wait_ready(INIT_LIMIT_S)
            except EnvironmentDied:
                with self._lock:
                    if environment in pool.environments:
                        pool.environments.remove(environment)
                continue
            with self._lock:
                pool.idle.append(environment)

    # --- keep-alive and shutdown -------------------------------------------------------------

    def _reap(self) -> None:
        while not self._stopping.wait(1.0):
            now = time.monotonic()
            retire = []
            with self._lock:
                for pool in self._pools.values():
                    for environment in list(pool.idle):
                        expired = now - environment.last_used > KEEP_ALIVE_S
                        if (expired and not environment.provisioned) or not environment.alive:
                            pool.idle.remove(environment)
                            pool.environments.remove(environment)
                            retire.append(environment)
            for environment in retire:
                environment.retire()

    def _retire_pool(self, pool: Pool) -> None:
        with self._lock:
            idle, pool.idle = pool.idle, []
            for environment in idle:
                pool.environments.remove(environment)
            snapshot, pool.snapshot = pool.snapshot, None
        for environment in idle:
            environment.retire()
        if snapshot is not None:
            snapshot.close()

    # --- SnapStart (moto keeps no SnapStart setting) -----------------------------------------

    def _snapshot(self, pool: Pool) -> Snapshot:
        """The version's snapshot, made on first need: Init runs once, in the template."""
        with self._lock:
            if pool.snapshot is None or pool.snapshot.process.poll() is not None:
                spec = pool.spec
                template_tmp = Path(tempfile.mkdtemp(dir=self._code_root))
                env = function_environment(
                    spec,
                    runtime_api="",
                    log_stream="",
                    tmp=template_tmp,
                    initialization_type="snap-start",
                )
                pool.snapshot = Snapshot(template_command(), spec.handler, spec.code_dir, env)
            return pool.snapshot

    def configuration_call(
        self,
        method: str,
        path: str,
        environ: dict[str, Any],
        region: str,
        account: str,
        moto_app: WsgiApp,
    ) -> Answer | None:
        """Create, update, get and publish calls, answered by moto, with SnapStart kept here.

        Returns None for calls that do not concern SnapStart (the gateway forwards them)."""
        match = _CONFIG_PATH.match(path)
        if match is None:
            return None
        name, tail = unquote(match["name"] or ""), match["tail"] or ""
        if method == "GET" and not name:
            return None  # ListFunctions
        wanted = None
        if (method, tail) in (("POST", ""), ("PUT", "/configuration")):
            request = json.loads(read_body(environ) or b"{}")
            name = name or request.get("FunctionName", "")
            wanted = (request.get("SnapStart") or {}).get("ApplyOn")
        elif (method, tail) not in (("GET", ""), ("GET", "/configuration"), ("POST", "/versions")):
            return None
        status, headers, body = call(moto_app, environ)
        if not status.startswith("2"):
            return status, headers, body
        name = name.split(":function:")[-1].split(":")[0]
        if wanted is not None:
            self._snap_start[(region, name)] = wanted
        result = json.loads(body)
        configuration = result.get("Configuration", result)
        version = configuration.get("Version", "$LATEST")
        if tail == "/versions" and self.snap_start_on(region, name, version):
            # AWS runs Init and takes the snapshot when the version is published.
            threading.Thread(
                target=self._snapshot_version,
                args=(region, account, name, version),
                name="lambda-snapshot",
                daemon=True,
            ).start()
        apply_on = self._snap_start.get((region, name), "None")
        published = configuration.get("Version", "$LATEST") != "$LATEST"
        configuration["SnapStart"] = {
            "ApplyOn": apply_on,
            "OptimizationStatus": "On" if apply_on == "PublishedVersions" and published else "Off",
        }
        return json_answer(int(status.split()[0]), result)

    def _snapshot_version(self, region: str, account: str, name: str, version: str) -> None:
        moto = MotoLambda(account, region)
        found = moto.function(name, version)
        if found is not None:
            self._snapshot(self._pool(moto, *found, region))

    def snap_start_on(self, region: str, name: str, version: str) -> bool:
        return version != "$LATEST" and self._snap_start.get((region, name)) == "PublishedVersions"

    def retire_function(self, name_or_arn: str) -> None:
        """Retire the environments of a deleted function, every version of it: the idle ones
        now, the busy ones when their invocation ends."""
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        with self._lock:
            gone = [k for k, p in self._pools.items() if p.spec.name == name]
            pools = [self._pools.pop(k) for k in gone]
        for pool in pools:
            self._retire_pool(pool)

    def environments(self) -> list[dict[str, Any]]:
        """What is running now, for tests and the notebooks' curiosity."""
        with self._lock:
            return [
                {
                    "function": p.spec.name,
                    "environment": e.id,
                    "pid": e.process.pid,
                    "invocations": e.invocations,
                    "alive": e.alive,
                }
                for p in self._pools.values()
                for e in p.environments
            ]

    def close(self) -> None:
        """Retire every environment and stop the background threads."""
        self._stopping.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            for environment in list(pool.environments):
                environment.retire()
            if pool.snapshot is not None:
                pool.snapshot.close()
        self._logs.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        shutil.rmtree(self._code_root, ignore_errors=True)


def _provisioned_state(pool: Pool, status: str, ready: int = 0) -> dict[str, Any]:
    when = pool.provisioned_at or datetime.now(UTC)
    return {
        "RequestedProvisionedConcurrentExecutions": pool.provisioned,
        "AvailableProvisionedConcurrentExecutions": ready,
        "AllocatedProvisionedConcurrentExecutions": ready,
        "Status": status,
        "LastModified": when.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }


def _init_failure(environment: Environment) -> Outcome:
    body = (
        environment.init_error
        or json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": "RequestId:  Error: Runtime exited before it was ready",
            }
        ).encode()
    )
    try:
        error = json.loads(body)
        error["requestId"] = ""
        body = json.dumps(error).encode()
    except ValueError:
        pass
    return Outcome(
        body,
        "Unhandled",
        0.0,
        environment.init_ms,
        environment.max_memory_mb(),
        environment.take_lines(),
    )


def _check_payload(payload: bytes) -> None:
    try:
        json.loads(payload or b"{}")
    except ValueError:
        raise LambdaError(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: Unrecognized token",
        ) from None


def _error(status: int, code: str, message: str, extra: dict | None = None) -> Answer:
    headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", str(uuid.uuid4()))]
    return json_answer(status, {"Type": "User", "message": message, **(extra or {})}, headers)
