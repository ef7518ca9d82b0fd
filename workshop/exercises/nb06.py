"""Exercises of notebook 06, cold starts and microVMs: ``from workshop.exercises import nb06``.

- ``q1``: the Billed Duration of a cold start, from a REPORT line (a number).
- ``q2``: ``count_cold_starts(minutes, keep_alive) -> int``, the fixed keep-alive policy for
  one function, run on cases with known answers.
- ``q3``: ``force_cold_start(aws_lambda, function_name)``, which makes the next call of
  ``$LATEST`` start cold; the checker proves it on a function of its own.
- ``q4``: from the learner's own simulation table, the fixed windows whose typical
  application sees fewer cold starts than under the hybrid policy (a set of minutes).

The checker of q3 creates a function of its own (``check-cold-…``) on the learner's backend and
deletes it, with its log group, afterwards. While it runs, a local cloud in this kernel keeps
idle environments for :data:`HOLD_KEEP_ALIVE_S` (notebook 06 shortens the keep-alive to half a
second), so that only the learner's change, never a wait, can retire the checker's environment.
The learner's functions run in a thread with a time limit, so a loop that never ends fails the
check instead of hanging the notebook.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import math
import numbers
import re
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError, WaiterError

import workshop
from workshop import lambdas
from workshop.exercises.core import CheckedExercise, Incorrect, is_number
from workshop.exercises.nb01 import run_bounded
from workshop.exercises.nb05 import scratch_function
from workshop.simulation.keepalive import cold_starts as reference_cold_starts

TIME_LIMIT_SECONDS = 60.0
"""How long ``force_cold_start`` may run: on AWS a configuration change takes a few seconds."""


# --- q1 ---------------------------------------------------------------------------------------

Q1_DURATION_MS = 12.43
Q1_INIT_MS = 231.80
Q1_EXPECTED = math.ceil(Q1_DURATION_MS + Q1_INIT_MS)


def _judge_billed(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of milliseconds; got {type(answer).__name__}.")
    answer = float(answer)
    if answer == Q1_EXPECTED:
        return (
            f"{Q1_DURATION_MS} + {Q1_INIT_MS} = {Q1_DURATION_MS + Q1_INIT_MS:.2f} ms, rounded up: "
            f"{Q1_EXPECTED} ms. The same call on a warm environment would be billed "
            f"{math.ceil(Q1_DURATION_MS)} ms: this cold start costs about "
            f"{Q1_EXPECTED / math.ceil(Q1_DURATION_MS):.0f} times as much."
        )
    if math.isclose(answer, math.ceil(Q1_DURATION_MS)) or math.isclose(answer, Q1_DURATION_MS):
        raise Incorrect(
            "That is the warm price. Since 2025-08-01, what else does AWS bill on a cold start "
            "of a zip function on a managed runtime?"
        )
    if math.isclose(answer, Q1_DURATION_MS + Q1_INIT_MS):
        raise Incorrect("Almost: Billed Duration is a whole number of milliseconds. Which way?")
    if math.isclose(answer, math.floor(Q1_DURATION_MS + Q1_INIT_MS)):
        raise Incorrect("Almost: Lambda does not round down.")
    if math.isclose(answer, math.ceil(Q1_INIT_MS)) or math.isclose(answer, Q1_INIT_MS):
        raise Incorrect("That is Init alone; the handler's Duration is billed as well.")
    raise Incorrect(
        "Not quite. Which two durations of the REPORT line are billed, and how rounded?"
    )


q1 = CheckedExercise(
    "Billed Duration of a cold start",
    _judge_billed,
    hint=(
        "On a cold start Billed Duration is about Duration + Init Duration (since 2025-08-01),"
        " rounded up to the next whole millisecond."
    ),
    solution=(
        f"`answer = math.ceil({Q1_DURATION_MS} + {Q1_INIT_MS})`, that is {Q1_EXPECTED} ms."
        " Init has been billed for zip functions on managed runtimes since 2025-08-01, so a cold"
        " start is paid for twice: by the caller, who waits, and on the bill."
    ),
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_CASES: list[tuple[list[int], int]] = [
    (list(range(0, 30, 3)), 5),  # every 3 minutes: warm after the first
    (list(range(0, 30, 3)), 2),  # every 3 minutes, 2-minute window: always cold
    ([0, 5], 5),  # exactly the window apart: still warm
    ([0, 1, 2, 10, 11, 40, 41, 41, 100], 5),
    ([0, 1, 2, 10, 11, 40, 41, 41, 100], 30),
    ([7, 7, 7], 0),  # three invocations in one minute: one environment
    ([], 10),  # never invoked: no cold start
]
Q2_SECONDS = 3.0
"""How long the learner's function may take for all the cases together."""


def _from_last_cold_start(minutes: list[int], keep_alive: int) -> int:
    """A likely mistake: the window counted from the last cold start, not the last call."""
    cold, since = 0, None
    for minute in minutes:
        if since is None or minute - since > keep_alive:
            cold, since = cold + 1, minute
    return cold


def _without_the_first(minutes: list[int], keep_alive: int) -> int:
    """A likely mistake: the first invocation of the day not counted as cold."""
    return sum(later - earlier > keep_alive for earlier, later in itertools.pairwise(minutes))


def _run_cases(count_cold_starts: Callable[..., Any]) -> Callable[[], list[tuple[str, Any]]]:
    """All of :data:`Q2_CASES` in one bounded run: ``("value", v)`` per case, up to a first
    ``("error", exception)``."""

    def run() -> list[tuple[str, Any]]:
        results: list[tuple[str, Any]] = []
        for minutes, keep_alive in Q2_CASES:
            try:
                results.append(("value", count_cold_starts(list(minutes), keep_alive)))
            except Exception as error:  # reported with its case below
                results.append(("error", error))
                break
        return results

    return run


def _judge_cold_starts(count_cold_starts: Any) -> str:
    if not callable(count_cold_starts):
        raise Incorrect(
            "Pass your function itself, without calling it: "
            f"nb06.q2.check(count_cold_starts); got {type(count_cold_starts).__name__}."
        )
    results = run_bounded(_run_cases(count_cold_starts), (), "count_cold_starts", Q2_SECONDS)
    for (minutes, keep_alive), (kind, got) in zip(Q2_CASES, results, strict=False):
        case = f"count_cold_starts({minutes}, keep_alive={keep_alive})"
        if kind == "error":
            raise Incorrect(f"{case} raised {type(got).__name__}: {got}")
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise Incorrect(f"Return the number of cold starts as an int; got {got!r}.")
        expected = reference_cold_starts(minutes, keep_alive)
        if got == expected:
            continue
        if not minutes:
            raise Incorrect(f"{case} returned {got}: a function never invoked never starts.")
        if minutes == [0, 5]:
            raise Incorrect(
                f"{case} returned {got}. An invocation exactly keep_alive minutes after the "
                "previous one still finds the environment warm."
            )
        if len(set(minutes)) < len(minutes) and got > expected:
            raise Incorrect(
                f"{case} returned {got}: several invocations in the same minute are served by "
                "one environment, so only the first of them can be cold."
            )
        if got == _from_last_cold_start(minutes, keep_alive):
            raise Incorrect(
                f"{case} returned {got}. The keep-alive window restarts after every "
                "invocation, warm ones too: measure each idle time from the previous "
                "invocation, not from the last cold start."
            )
        if got == _without_the_first(minutes, keep_alive):
            raise Incorrect(
                f"{case} returned {got}. The first invocation of the day is always cold: no "
                "environment was there before it."
            )
        raise Incorrect(
            f"{case} returned {got}, which is not right. Work through that case by hand: "
            "which invocations find no environment kept for them?"
        )
    return (
        f"Right on all {len(Q2_CASES)} cases. `workshop.simulation.keepalive.fixed` does the "
        "same for every application at once, with numpy instead of a loop."
    )


q2 = CheckedExercise(
    "count_cold_starts(minutes, keep_alive)",
    _judge_cold_starts,
    hint=(
        "Walk through the minutes, remembering the previous one. The first invocation is cold;"
        " a later one is cold when more than `keep_alive` minutes have passed since the"
        " previous invocation."
    ),
    solution=(
        "```python\n"
        "def count_cold_starts(minutes, keep_alive):\n"
        "    cold, previous = 0, None\n"
        "    for minute in minutes:\n"
        "        if previous is None or minute - previous > keep_alive:\n"
        "            cold += 1\n"
        "        previous = minute\n"
        "    return cold\n"
        "```"
    ),
)


# --- q3 ---------------------------------------------------------------------------------------

Q3_SETTINGS = ("Environment", "MemorySize", "Timeout", "Description", "Handler", "Runtime")
Q3_LOCAL_RETIRING = {"Environment", "MemorySize", "Timeout", "Handler", "Runtime", "CodeSha256"}
"""The settings whose change makes the local cloud start new environments (the revision in
``workshop.local.lambda_service.LambdaService._pool``); a Description alone does not."""
HOLD_KEEP_ALIVE_S = TIME_LIMIT_SECONDS + 60.0
"""The keep-alive of a local cloud in this kernel while q3's checker runs."""


@contextlib.contextmanager
def _keep_environments_alive(cloud: Any) -> Iterator[None]:
    """While the checker runs, idle environments of a local cloud in this kernel stay warm.

    The keep-alive is a module attribute that the local cloud's reaper reads on every pass, so
    raising it here takes effect at once; it is put back afterwards. A local cloud in another
    process (``workshop serve``) and AWS are not affected: there the check relies on
    :data:`Q3_LOCAL_RETIRING` and on AWS's long keep-alive.
    """
    if cloud.kind != "local":
        yield
        return
    from workshop.local import lambda_service

    saved = lambda_service.KEEP_ALIVE_S
    lambda_service.KEEP_ALIVE_S = max(saved, HOLD_KEEP_ALIVE_S)
    try:
        yield
    finally:
        lambda_service.KEEP_ALIVE_S = saved


def _call(aws_lambda: Any, name: str) -> tuple[Any, bool]:
    """Invoke ``$LATEST``; the counter's environment id and whether REPORT had Init Duration."""
    response = aws_lambda.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    payload = json.loads(response["Payload"].read() or b"null")
    log = base64.b64decode(response.get("LogResult") or b"").decode(errors="replace")
    environment = payload.get("environment") if isinstance(payload, dict) else None
    return environment, bool(re.search(r"Init Duration: [\d.]+ ms", log))


def _versions(aws_lambda: Any, name: str) -> int:
    return len(aws_lambda.list_versions_by_function(FunctionName=name)["Versions"])


def _settings(aws_lambda: Any, name: str) -> dict[str, Any]:
    configuration = aws_lambda.get_function_configuration(FunctionName=name)
    return {key: configuration.get(key) for key in Q3_SETTINGS} | {
        "CodeSha256": configuration.get("CodeSha256")
    }


def _judge_force_cold_start(force_cold_start: Any) -> str:
    if not callable(force_cold_start):
        raise Incorrect(
            "Pass your function itself, without calling it: nb06.q3.check(force_cold_start); "
            f"got {type(force_cold_start).__name__}."
        )
    code = lambdas.zip_folder(lambdas.FUNCTIONS_DIR / "counter")
    cloud = workshop.current()
    with (
        _keep_environments_alive(cloud),
        scratch_function("check-cold", code) as (aws_lambda, name),
    ):
        try:
            first, _ = _call(aws_lambda, name)
            warm_environment, cold = _call(aws_lambda, name)
            before = _settings(aws_lambda, name)
            versions = _versions(aws_lambda, name)
        except ClientError as error:
            raise Incorrect(
                f"The checker could not call its function ({error}): run it again."
            ) from None
        if cold or warm_environment != first:
            raise Incorrect(
                "The checker's own second call was not warm, so it cannot judge yours: run "
                "the cell again."
            )
        run_bounded(force_cold_start, (aws_lambda, name), "force_cold_start", TIME_LIMIT_SECONDS)
        try:
            aws_lambda.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            after = _settings(aws_lambda, name)
            published = _versions(aws_lambda, name) > versions
            environment, cold = _call(aws_lambda, name)
        except (ClientError, WaiterError) as error:
            raise Incorrect(
                f"After your function ran, the checker could not call the function ({error}). "
                "Did your function delete it?"
            ) from None
        if after == before and published:
            raise Incorrect(
                "You published a version. Its first call would start cold, but only calls of "
                "that version go there: `$LATEST` kept its warm environment, and the next call "
                "of the function name found it."
            )
        if after == before:
            raise Incorrect(
                "The function's configuration and code are the same as before your function ran."
                " Waiting for an environment to go cold is not a method: on AWS an idle "
                "environment may live for many minutes. Change something Lambda must start a "
                "new environment for."
            )
        changed = sorted(key for key in before if before[key] != after[key])
        if cloud.kind == "local" and not Q3_LOCAL_RETIRING & set(changed):
            why = (
                "so the next call found the warm one"
                if not cold
                else "so that call was cold only because the environment sat idle longer than "
                "the shared local cloud's keep-alive, not because of your change"
            )
            raise Incorrect(
                f"You changed {', '.join(changed)}. The local cloud starts no new environment "
                f"for that setting, {why}. Change a setting that affects how the function runs."
            )
        if not cold or environment == warm_environment:
            raise Incorrect(
                "Your function changed something, but the next call of $LATEST was still warm "
                "(no Init Duration in its REPORT line). Did you change $LATEST itself, and wait "
                "until the update was done?"
            )
    return (
        f"You changed {', '.join(changed)}; the next call ran in a new environment and its REPORT "
        "line had an Init Duration."
    )


q3 = CheckedExercise(
    "force_cold_start(aws_lambda, function_name)",
    _judge_force_cold_start,
    hint=(
        "A configuration change retires the function's environments: set an environment"
        " variable to a new value (keep the others), then wait with the `function_updated_v2`"
        " waiter."
    ),
    solution=(
        "```python\n"
        "import uuid\n\n"
        "def force_cold_start(aws_lambda, function_name):\n"
        "    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)\n"
        '    variables = dict(configuration.get("Environment", {}).get("Variables", {}))\n'
        '    variables["FORCE_COLD_START"] = uuid.uuid4().hex\n'
        "    aws_lambda.update_function_configuration(\n"
        '        FunctionName=function_name, Environment={"Variables": variables}\n'
        "    )\n"
        '    aws_lambda.get_waiter("function_updated_v2").wait(FunctionName=function_name)\n'
        "```\n"
        "A new value each time (here a random one) makes every call of `force_cold_start` a"
        " change. Publishing a version also gives a fresh environment, but only to calls of"
        " that version, not of `$LATEST`."
    ),
)


# --- q4 ---------------------------------------------------------------------------------------

Q4_HYBRID = "hybrid (fallback 10 min)"


def _judge_better_windows(answer: Any, policies: Any = None) -> str:
    if not isinstance(policies, pd.DataFrame) or "policy" not in policies.columns:
        raise Incorrect(
            "Pass your simulation table as the second argument: nb06.q4.check(answer, policies)."
        )
    table = policies.set_index("policy")
    if Q4_HYBRID not in table.index:
        raise Incorrect(f"Your table has no row {Q4_HYBRID!r}: run section 7 as it is.")
    if is_number(answer):
        answer = {answer}
    if not isinstance(answer, set | list | tuple | frozenset):
        raise Incorrect(f"Answer with a set of minutes, such as {{5, 10}}; got {answer!r}.")
    if not all(is_number(a) for a in answer):
        raise Incorrect("Answer with window lengths in minutes (numbers), such as {5, 10}.")
    target = table.loc[Q4_HYBRID, "app_cold_start_pct_p75"]
    fixed = table[table["kind"] == "fixed"]
    better = fixed[fixed["app_cold_start_pct_p75"] < target]
    expected = {int(w) for w in better["window_minutes"]}
    if {int(a) for a in answer} == expected:
        if not expected:
            return "No fixed window does better for the typical application in your run."
        needed = better["idle_gb_hours"].min() / table.loc[Q4_HYBRID, "idle_gb_hours"]
        return (
            f"Right. But look at the price: the cheapest of them keeps {needed:.1f} times as much "
            "memory idle as the hybrid policy. A window long enough for the rare applications is "
            "wasted on all the others."
        )
    raise Incorrect(
        "Not that set. Compare each fixed window's app_cold_start_pct_p75 with the hybrid "
        "row's: which are strictly lower?"
    )


q4 = CheckedExercise(
    "Fixed windows that beat the hybrid policy on cold starts",
    _judge_better_windows,
    hint=(
        f"In `policies`, take the `app_cold_start_pct_p75` of the row {Q4_HYBRID!r}, then look"
        " for fixed rows whose value is lower."
    ),
    solution=(
        "```python\n"
        'table = policies.set_index("policy")\n'
        f'target = table.loc["{Q4_HYBRID}", "app_cold_start_pct_p75"]\n'
        'fixed = policies[policies["kind"] == "fixed"]\n'
        'answer = set(fixed.loc[fixed["app_cold_start_pct_p75"] < target, "window_minutes"])\n'
        "```\n"
        "Typically only the longest windows do, and each of them pays for it with far more idle"
        " memory than the hybrid policy."
    ),
)
