"""Every checker of notebook 06: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and the checker that deploys a function
deletes it (and its log group) afterwards."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb06
from workshop.local import lambda_service

# --- q1 ---------------------------------------------------------------------------------------


def test_q1_right_wrong_and_untouched():
    assert nb06.q1.evaluate(245).status == "correct"
    assert nb06.q1.evaluate(245.0).status == "correct"
    assert nb06.q1.evaluate(np.float64(245.0)).status == "correct"  # from a DataFrame
    for wrong, says in (
        (13, "warm price"),
        (12.43, "warm price"),
        (244.23, "whole number"),
        (244, "round down"),
        (232, "Init alone"),
        (1000, "Not quite"),
        ("245", "number"),
        (True, "number"),
    ):
        outcome = nb06.q1.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert says in outcome.message
        assert "245" not in outcome.message
    assert nb06.q1.evaluate(...).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def right_cold_starts(minutes, keep_alive):
    cold, previous = 0, None
    for minute in minutes:
        if previous is None or minute - previous > keep_alive:
            cold += 1
        previous = minute
    return cold


def off_by_one(minutes, keep_alive):  # counts "exactly the window" as cold
    cold, previous = 0, None
    for minute in minutes:
        if previous is None or minute - previous >= keep_alive:
            cold += 1
        previous = minute
    return cold


def every_invocation_counted(minutes, keep_alive):  # a repeated minute counted again
    cold, previous = 0, None
    for minute in minutes:
        if previous is None or minute - previous > keep_alive or minute == previous:
            cold += 1
        previous = minute
    return cold


def from_the_last_cold_start(minutes, keep_alive):  # the window not restarted by warm calls
    cold, since = 0, None
    for minute in minutes:
        if since is None or minute - since > keep_alive:
            cold, since = cold + 1, minute
    return cold


def first_not_counted(minutes, keep_alive):  # only the gaps, not the first invocation
    return sum(b - a > keep_alive for a, b in itertools.pairwise(minutes))


def fails_late(minutes, keep_alive):  # right until the empty case, then raises
    if not minutes:
        raise IndexError("list index out of range")
    return right_cold_starts(minutes, keep_alive)


RELEASE = threading.Event()


def never_ends(minutes, keep_alive):  # loops until the test lets it go
    while not RELEASE.is_set():
        time.sleep(0.01)


def untouched(minutes, keep_alive):
    """Cold starts of one function under a fixed keep-alive (minutes)."""
    ...


def test_q2_right(capsys):
    outcome = nb06.q2.evaluate(right_cold_starts)
    assert outcome.status == "correct", outcome.message
    assert capsys.readouterr().out.count("Checking") == 1  # one bounded run for all the cases

    def with_numpy(minutes, keep_alive):  # a numpy integer is an integer too
        return np.int64(right_cold_starts(minutes, keep_alive))

    assert nb06.q2.evaluate(with_numpy).status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (off_by_one, "still finds the environment warm"),
        (every_invocation_counted, "same minute"),
        (from_the_last_cold_start, "restarts after every invocation, warm ones too"),
        (first_not_counted, "first invocation of the day is always cold"),
        (lambda minutes, keep_alive: len(minutes), "not right"),
        (lambda minutes, keep_alive: 1.0, "int"),
        (lambda minutes, keep_alive: 1 / 0, "ZeroDivisionError"),
        (fails_late, "count_cold_starts([], keep_alive=10) raised IndexError"),
        (42, "function itself"),
    ],
)
def test_q2_wrong(wrong, says):
    outcome = nb06.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message, outcome.message
    assert "previous is None" not in outcome.message  # never the solution's code


def test_q2_never_hangs():
    started = time.monotonic()
    try:
        outcome = nb06.q2.evaluate(never_ends)
    finally:
        RELEASE.set()
    assert outcome.status == "incorrect" and "did not return" in outcome.message
    assert time.monotonic() - started < 10
    assert no_check_threads_left()


def test_q2_untouched():
    assert nb06.q2.evaluate(untouched).status == "not attempted"
    assert nb06.q2.evaluate(...).status == "not attempted"


# --- q3 ---------------------------------------------------------------------------------------


def force_by_variable(aws_lambda, function_name):
    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)
    variables = dict((configuration.get("Environment") or {}).get("Variables", {}))
    variables["FORCE_COLD_START"] = uuid.uuid4().hex
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    aws_lambda.get_waiter("function_updated_v2").wait(FunctionName=function_name)


def force_by_memory(aws_lambda, function_name):
    aws_lambda.update_function_configuration(FunctionName=function_name, MemorySize=256)


def does_nothing(aws_lambda, function_name):
    aws_lambda.get_function_configuration(FunctionName=function_name)


def publishes_a_version(aws_lambda, function_name):
    aws_lambda.publish_version(FunctionName=function_name)


def deletes_it(aws_lambda, function_name):
    aws_lambda.delete_function(FunctionName=function_name)


def describes_it(aws_lambda, function_name):
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Description=uuid.uuid4().hex
    )


def describes_it_and_waits(aws_lambda, function_name):
    describes_it(aws_lambda, function_name)
    time.sleep(2.5)  # longer than a short local keep-alive and its once-a-second check


SEEN_KEEP_ALIVE: list[float] = []


def records_the_keep_alive(aws_lambda, function_name):
    SEEN_KEEP_ALIVE.append(lambda_service.KEEP_ALIVE_S)
    force_by_variable(aws_lambda, function_name)


def test_q3_right(current):
    for right in (force_by_variable, force_by_memory):
        outcome = nb06.q3.evaluate(right)
        assert outcome.status == "correct", outcome.message
    assert no_check_threads_left()


def test_q3_doing_nothing_is_wrong(current):
    outcome = nb06.q3.evaluate(does_nothing)
    assert outcome.status == "incorrect"
    assert "same as before" in outcome.message
    assert "update_function_configuration" not in outcome.message


def test_q3_deleting_the_function_is_wrong(current):
    outcome = nb06.q3.evaluate(deletes_it)
    assert outcome.status == "incorrect" and "delete" in outcome.message


def test_q3_a_description_alone_starts_no_local_environment(current):
    outcome = nb06.q3.evaluate(describes_it)
    assert outcome.status == "incorrect"
    assert "You changed Description" in outcome.message
    assert "starts no new environment for that setting" in outcome.message
    assert "Did you change $LATEST" not in outcome.message


def test_q3_waiting_out_a_short_keep_alive_is_not_a_pass(current, monkeypatch):
    monkeypatch.setattr(lambda_service, "KEEP_ALIVE_S", 0.5)  # notebook 06's setting
    outcome = nb06.q3.evaluate(describes_it_and_waits)
    assert outcome.status == "incorrect"
    # the checker kept its environment alive while it waited, so the next call was warm
    assert "found the warm one" in outcome.message
    assert lambda_service.KEEP_ALIVE_S == 0.5  # put back afterwards


def test_q3_holds_the_keep_alive_only_while_it_checks(current, monkeypatch):
    monkeypatch.setattr(lambda_service, "KEEP_ALIVE_S", 0.5)
    SEEN_KEEP_ALIVE.clear()
    assert nb06.q3.evaluate(records_the_keep_alive).status == "correct"
    assert SEEN_KEEP_ALIVE == [nb06.HOLD_KEEP_ALIVE_S]
    assert lambda_service.KEEP_ALIVE_S == 0.5
    assert nb06.q3.evaluate(deletes_it).status == "incorrect"  # a failed check restores it too
    assert lambda_service.KEEP_ALIVE_S == 0.5


def test_q3_publishing_a_version_leaves_latest_warm(current):
    outcome = nb06.q3.evaluate(publishes_a_version)
    assert outcome.status == "incorrect"
    assert "published a version" in outcome.message


def test_q3_untouched(current):
    def force_cold_start(aws_lambda, function_name):
        """Make the next call of the function start a new execution environment."""
        ...

    assert nb06.q3.evaluate(force_cold_start).status == "not attempted"
    assert nb06.q3.evaluate("not a function").status == "incorrect"


# --- q4 ---------------------------------------------------------------------------------------

POLICIES = pd.DataFrame(
    {
        "policy": ["fixed 5 min", "fixed 20 min", "fixed 60 min", nb06.Q4_HYBRID],
        "kind": ["fixed", "fixed", "fixed", "hybrid"],
        "window_minutes": [5, 20, 60, 10],
        "app_cold_start_pct_p75": [100.0, 60.0, 40.0, 50.0],
        "idle_gb_hours": [100.0, 300.0, 900.0, 320.0],
    }
)


def test_q4_right():
    fixed = POLICIES[POLICIES["kind"] == "fixed"]
    solution = set(fixed.loc[fixed["app_cold_start_pct_p75"] < 50.0, "window_minutes"])
    for right in ({60}, [60], (60,), {60.0}, 60, solution, np.int64(60)):
        outcome = nb06.q4.evaluate(right, POLICIES)
        assert outcome.status == "correct", outcome.message
    assert "2.8 times" in nb06.q4.evaluate({60}, POLICIES).message


def test_q4_reads_the_learners_own_table():
    mine = POLICIES.assign(app_cold_start_pct_p75=[100.0, 80.0, 70.0, 50.0])
    assert nb06.q4.evaluate(set(), mine).status == "correct"
    assert nb06.q4.evaluate({60}, mine).status == "incorrect"


@pytest.mark.parametrize("wrong", [{20, 60}, {5}, set(), {"60"}, "60", True])
def test_q4_wrong(wrong):
    outcome = nb06.q4.evaluate(wrong, POLICIES)
    assert outcome.status == "incorrect"
    assert "{60}" not in outcome.message


def test_q4_needs_the_table_and_an_answer():
    assert nb06.q4.evaluate({60}).status == "incorrect"
    assert nb06.q4.evaluate({60}, POLICIES.iloc[:3]).status == "incorrect"
    assert nb06.q4.evaluate(..., POLICIES).status == "not attempted"
