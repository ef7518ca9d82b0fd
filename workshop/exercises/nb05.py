"""Exercises of notebook 05, Lambda functions: ``from workshop.exercises import nb05``.

- ``q1``: what share of the billed milliseconds went to cold-start calls, from the learner's
  own measurement (the table of section 7).
- ``q2``: a handler for the photo service, deployed and invoked for real by the checker.
- ``q3``: ``set_greeting(aws_lambda, function_name, greeting)``, which sets one environment
  variable without losing the others; the checker proves the function sees it.
- ``q4``: the largest function timeout AWS recommends for a queue with a 30 s visibility
  timeout.

The checkers of q2 and q3 create a function of their own (``check-…`` with a random suffix) on
the learner's backend and delete it, with its log group, afterwards. Every wait is bounded:
Lambda's own timeout ends a handler that never returns, and the learner's ``set_greeting`` runs
in a thread with a time limit.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import inspect
import io
import json
import math
import re
import secrets
import sys
import textwrap
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

import workshop
from workshop import lambdas
from workshop.exercises.core import CheckedExercise, Incorrect, check_fraction, is_number
from workshop.exercises.nb01 import run_bounded

TIME_LIMIT_SECONDS = 30.0
"""How long the learner's ``set_greeting`` may run: on AWS an update takes a few seconds."""


# --- helpers the checkers share ------------------------------------------------------------


def _number(answer: Any, what: str) -> float:
    if not is_number(answer):
        raise Incorrect(f"Answer with {what}; got {type(answer).__name__} {answer!r}.")
    return float(answer)


def _zip_source(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _create(cloud: workshop.Backend, base: str, code: bytes, **configuration: Any) -> str:
    """A uniquely named function from zip bytes (the checker's own scratch function)."""
    return lambdas.deploy_code(
        cloud, f"{base}-{secrets.token_hex(3)}", code, Timeout=3, **configuration
    )


@contextlib.contextmanager
def scratch_function(base: str, code: bytes, **configuration: Any) -> Iterator[tuple[Any, str]]:
    """A function of the checker's own on the learner's backend, deleted (with its log group)
    afterwards; yields the Lambda client and the function's name."""
    cloud = workshop.current()
    try:
        name = _create(cloud, base, code, **configuration)
    except ClientError as error:
        code_name = error.response.get("Error", {}).get("Code", "an error")
        raise Incorrect(
            f"The checker could not create its function ({code_name}). That is not your code: "
            "run the cell again."
        ) from None
    try:
        yield cloud.client("lambda"), name
    finally:
        with contextlib.suppress(ClientError):
            cloud.client("lambda").delete_function(FunctionName=name)
        with contextlib.suppress(ClientError):
            cloud.client("logs").delete_log_group(logGroupName=f"/aws/lambda/{name}")


def _invoke(aws_lambda: Any, name: str, event: dict) -> tuple[dict, Any, str]:
    """Invoke with the log tail; return the response, the decoded payload and the request id
    from the START line (the id the function's context carried)."""
    response = aws_lambda.invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    payload = json.loads(response["Payload"].read() or b"null")
    log = base64.b64decode(response.get("LogResult") or b"").decode(errors="replace")
    started = re.search(r"START RequestId: (\S+)", log)
    return response, payload, started.group(1) if started else ""


# --- q1 ---------------------------------------------------------------------------------------


def _judge_cold_share(answer: Any, calls: Any = None) -> str:
    if not isinstance(calls, pd.DataFrame) or not {"start", "billed_ms"} <= set(calls.columns):
        raise Incorrect(
            "Pass your measurement as the second argument: nb05.q1.check(answer, latency)."
        )
    share = _number(answer, "a fraction between 0 and 1")
    billed = calls["billed_ms"].astype(float)
    cold = calls["start"] == "cold"
    if billed.sum() <= 0 or not cold.any():
        raise Incorrect("This table has no billed cold-start calls: run section 7 again.")
    expected = billed[cold].sum() / billed.sum()

    def near(value: float) -> bool:
        return math.isclose(share, value, abs_tol=0.01)

    if near(expected):
        return (
            f"{cold.sum()} cold calls out of {len(calls)} were billed {expected:.0%} of all the "
            "milliseconds: for a small handler, Init costs more than the work. Since 2025-08-01 "
            "AWS bills Init for zip functions on managed runtimes."
        )
    if near(cold.mean()):
        raise Incorrect(
            "That is the share of the *calls* that were cold. The question asks about billed "
            "milliseconds: add up `billed_ms`."
        )
    if near(1 - expected):
        raise Incorrect(
            "That is the share of the warm calls; the question asks about the cold ones."
        )
    check_fraction(share, expected, abs_tol=0.01)
    raise Incorrect(
        'Not quite. Add up `billed_ms` of the rows whose `start` is "cold", and divide by the '
        "sum over all rows."
    )


q1 = CheckedExercise(
    "Share of the billed time that went to cold starts",
    _judge_cold_share,
    hint=(
        'Filter `latency` to the rows with `start == "cold"`, add up their `billed_ms`, and'
        " divide by the `billed_ms` of all rows."
    ),
    solution=(
        "```python\n"
        'cold = latency["start"] == "cold"\n'
        'answer = latency.loc[cold, "billed_ms"].sum() / latency["billed_ms"].sum()\n'
        "```\n"
        "A cold call's Billed Duration includes its Init Duration, tens to hundreds of"
        " milliseconds, while a warm call of this handler is billed a millisecond or two. So"
        " a handful of cold calls outweighs dozens of warm ones."
    ),
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_EVENTS = [
    {"upload_id": "u-0101", "sizes": ["thumb", "medium", "large"], "filter": "none"},
    {"upload_id": "u-0102", "sizes": [], "filter": "sepia"},
    {"upload_id": "u-0103", "filter": "mono"},
]
Q2_JOBS = [3, 0, 0]


def _handler_source(handler: Callable) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(handler))
    except (OSError, TypeError):
        raise Incorrect(
            "The checker needs the source of your handler: define it with `def` in a notebook "
            "cell and pass the function itself."
        ) from None
    if handler.__name__ != "handler":
        source += f"\n\nhandler = {handler.__name__}\n"
    return source


RUNTIME_PACKAGES = frozenset(sys.stdlib_module_names) | {"boto3", "botocore"}
"""What the checker lets a handler import: the standard library and boto3, which AWS's Python
runtime has; anything else would have to travel in the zip, and the checker's zip holds only
the handler."""


def _imports_beyond_the_runtime(source: str) -> list[str]:
    """Top-level package names the source imports that AWS's runtime does not have."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(names - RUNTIME_PACKAGES)


def _function_error_feedback(event: dict, error: dict) -> str:
    """What a failed invocation says about the handler, aimed at the likely mistake."""
    kind, message = error.get("errorType"), error.get("errorMessage")
    said = f"For the event {json.dumps(event)} the function failed with {kind}: {message}."
    if kind == "KeyError":
        return f"{said} One of the events lacks a key your handler reads."
    if kind in {"NameError", "ImportError", "ModuleNotFoundError", "UnboundLocalError"}:
        return (
            f"{said} A handler runs on its own in Lambda: it sees only its event, its context "
            "and what it imports, nothing defined elsewhere in this notebook."
        )
    return said


def handler_source(handler: Any, check_call: str, foreign_advice: str) -> str:
    """A learner's handler as the source of a one-file function, refused (with feedback) if
    it is not a function, does not compile, or imports what AWS's runtime lacks."""
    if not callable(handler):
        raise Incorrect(
            f"Pass your function itself, without calling it: {check_call}; "
            f"got {type(handler).__name__}."
        )
    source = _handler_source(handler)
    try:
        compile(source, "app.py", "exec")
    except SyntaxError as error:
        raise Incorrect(f"Your handler does not compile: {error}") from None
    foreign = _imports_beyond_the_runtime(source)
    if foreign:
        raise Incorrect(f"Your handler imports {', '.join(foreign)}, {foreign_advice}")
    return source


def _judge_handler(handler: Any) -> str:
    source = handler_source(
        handler,
        "nb05.q2.check(handler)",
        "which would fail on AWS: a function finds "
        "only the runtime's own packages (boto3 among them) and what is in its zip, and the "
        "checker's zip holds only your handler (section 3). The local backend would let it "
        "pass, so the checker stops here. The standard library is enough for this task.",
    )
    print("Checking `handler`: deploying it as a Lambda function ...", flush=True)
    request_ids = set()
    with scratch_function("check-handler", _zip_source(source)) as (aws_lambda, name):
        for event, jobs in zip(Q2_EVENTS, Q2_JOBS, strict=True):
            response, payload, request_id = _invoke(aws_lambda, name, event)
            if response.get("FunctionError"):
                raise Incorrect(_function_error_feedback(event, payload or {}))
            if not isinstance(payload, dict):
                raise Incorrect(f"Return a dict; the function returned {payload!r}.")
            missing = {"upload_id", "jobs", "request_id"} - set(payload)
            if missing:
                raise Incorrect(f"The answer has no {', '.join(sorted(missing))}: got {payload}.")
            if payload["upload_id"] != event["upload_id"]:
                raise Incorrect(
                    f"For {json.dumps(event)}, upload_id came back as {payload['upload_id']!r}."
                )
            if payload["jobs"] != jobs:
                raise Incorrect(
                    f"For {json.dumps(event)}, jobs was {payload['jobs']!r}. Count the sizes; an "
                    "event without sizes has no jobs."
                )
            if payload["request_id"] != request_id:
                raise Incorrect(
                    f"request_id was {payload['request_id']!r}, not the id of the invocation "
                    "that ran it. Where does a handler find its request id?"
                )
            request_ids.add(request_id)
    return (
        f"Your handler ran as a Lambda function and answered {len(Q2_EVENTS)} events, each with "
        f"its own request id ({len(request_ids)} different ones)."
    )


q2 = CheckedExercise(
    "A handler for the photo service",
    _judge_handler,
    hint=(
        'The event is a dict: `event["upload_id"]`, and `event.get("sizes", [])` for a key'
        " that may be missing. The request id is an attribute of `context`."
    ),
    solution=(
        "```python\n"
        "def handler(event, context):\n"
        "    return {\n"
        '        "upload_id": event["upload_id"],\n'
        '        "jobs": len(event.get("sizes", [])),\n'
        '        "request_id": context.aws_request_id,\n'
        "    }\n"
        "```"
    ),
)


# --- q3 ---------------------------------------------------------------------------------------


def _judge_set_greeting(set_greeting: Any) -> str:
    if not callable(set_greeting):
        raise Incorrect(
            "Pass your function itself, without calling it: nb05.q3.check(set_greeting); "
            f"got {type(set_greeting).__name__}."
        )
    token = secrets.token_hex(3)
    bucket, greeting = f"photos-{token}", f"bonjour {token}"
    code = lambdas.zip_folder(lambdas.FUNCTIONS_DIR / "counter")
    variables = {"PHOTO_BUCKET": bucket, "GREETING": "hello"}
    scratch = scratch_function("check-greeting", code, Environment={"Variables": variables})
    with scratch as (aws_lambda, name):
        run_bounded(set_greeting, (aws_lambda, name, greeting), "set_greeting", TIME_LIMIT_SECONDS)
        try:
            aws_lambda.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
            configuration = aws_lambda.get_function_configuration(FunctionName=name)
        except ClientError as error:
            raise Incorrect(f"The checker could not read the function back: {error}") from None
        now = (configuration.get("Environment") or {}).get("Variables") or {}
        if now.get("GREETING") != greeting:
            raise Incorrect(
                f"After set_greeting the function's GREETING is {now.get('GREETING')!r}, not the "
                "greeting the checker passed in."
            )
        if now.get("PHOTO_BUCKET") != bucket:
            raise Incorrect(
                "GREETING is right, but the function's other variable, PHOTO_BUCKET, is gone or "
                "changed: `Environment` replaces the whole set of variables. Read the current "
                "ones first."
            )
        _, payload, _ = _invoke(aws_lambda, name, {})
        if not isinstance(payload, dict) or payload.get("greeting") != greeting:
            raise Incorrect(
                f"The configuration is right, but the function answered {payload!r}. Did the "
                "update finish before the call?"
            )
    return (
        "The function's configuration has the new GREETING and still has PHOTO_BUCKET, and the "
        "function itself read the new value from its environment (a new environment: the "
        "change forced a cold start)."
    )


q3 = CheckedExercise(
    "Set one environment variable and keep the others",
    _judge_set_greeting,
    hint=(
        "`get_function_configuration` returns the current `Environment`; copy its `Variables`,"
        " change GREETING, and pass the whole dict to `update_function_configuration`."
    ),
    solution=(
        "```python\n"
        "def set_greeting(aws_lambda, function_name, greeting):\n"
        "    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)\n"
        '    variables = dict(configuration.get("Environment", {}).get("Variables", {}))\n'
        '    variables["GREETING"] = greeting\n'
        "    aws_lambda.update_function_configuration(\n"
        '        FunctionName=function_name, Environment={"Variables": variables}\n'
        "    )\n"
        '    aws_lambda.get_waiter("function_updated_v2").wait(FunctionName=function_name)\n'
        "```\n"
        '`Environment={"Variables": {"GREETING": greeting}}` alone would delete every other'
        " variable of the function."
    ),
)


# --- q4 ---------------------------------------------------------------------------------------

Q4_VISIBILITY_TIMEOUT = 30
Q4_FACTOR = 6
Q4_EXPECTED = Q4_VISIBILITY_TIMEOUT // Q4_FACTOR


def _judge_timeout(answer: Any) -> str:
    seconds = _number(answer, "a number of seconds")
    if seconds == Q4_EXPECTED:
        return (
            f"{Q4_VISIBILITY_TIMEOUT} s / {Q4_FACTOR} = {Q4_EXPECTED} s. A resize that takes 2 s "
            "fits with room to spare, and a message stays hidden long enough that no second "
            "copy of its job starts while the first may still be running."
        )
    if seconds < 2:
        raise Incorrect("A resize takes up to 2 s; with that timeout some would be cut off.")
    if seconds == Q4_VISIBILITY_TIMEOUT:
        raise Incorrect(
            "Lambda would accept a timeout equal to the visibility timeout, but that is not "
            "what AWS recommends. Read the recommendation in the question again."
        )
    if seconds > Q4_VISIBILITY_TIMEOUT:
        raise Incorrect(
            "Too long: Lambda refuses a queue mapping whose function timeout exceeds the queue's "
            "visibility timeout."
        )
    if seconds < Q4_EXPECTED:
        raise Incorrect("That follows the recommendation, but it is not the largest such timeout.")
    raise Incorrect(
        "Too long for the recommendation: the visibility timeout should be at least "
        "a fixed multiple of the function timeout."
    )


q4 = CheckedExercise(
    "The largest recommended function timeout",
    _judge_timeout,
    hint=(
        "AWS recommends that a queue's visibility timeout be at least 6 times the timeout of the"
        " function that consumes it."
    ),
    solution=(
        "`answer = 30 / 6`, that is 5 seconds: the visibility timeout (30 s) must be at least 6"
        " times the function timeout. A 2 s resize fits."
    ),
)
