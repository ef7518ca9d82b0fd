"""Every checker of notebook 05: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and the checkers that deploy a function
delete it (and its log group) afterwards."""

from __future__ import annotations

import pandas as pd
import pytest

from workshop.exercises import nb05

# --- q1 ---------------------------------------------------------------------------------------

LATENCY = pd.DataFrame(
    {
        "start": ["cold", "cold"] + ["warm"] * 8,
        "billed_ms": [60, 40] + [1] * 8,  # the cold calls: 100 of 108 billed ms
    }
)
RIGHT_SHARE = 100 / 108


def test_q1_right_answer():
    assert nb05.q1.evaluate(RIGHT_SHARE, LATENCY).status == "correct"
    assert nb05.q1.evaluate(0.93, LATENCY).status == "correct"


def test_q1_reads_the_learners_own_measurement():
    mine = LATENCY.assign(billed_ms=[5, 3] + [1] * 8)
    assert nb05.q1.evaluate(0.5, mine).status == "correct"
    assert nb05.q1.evaluate(RIGHT_SHARE, mine).status == "incorrect"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (0.2, "share of the *calls*"),
        (1 - RIGHT_SHARE, "warm calls"),
        (100 * RIGHT_SHARE, "not as a percentage"),
        (0.5, "Not quite"),
        (1.7, "between 0 and 1"),
        ("most", "fraction"),
    ],
)
def test_q1_wrong_answers(wrong, says):
    outcome = nb05.q1.evaluate(wrong, LATENCY)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "0.93" not in outcome.message and "93%" not in outcome.message


def test_q1_needs_the_table_and_an_answer():
    outcome = nb05.q1.evaluate(0.9)
    assert outcome.status == "incorrect" and "latency" in outcome.message
    assert nb05.q1.evaluate(..., LATENCY).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def handler(event, context):
    return {
        "upload_id": event["upload_id"],
        "jobs": len(event.get("sizes", [])),
        "request_id": context.aws_request_id,
    }


def forgets_missing_sizes(event, context):
    return {
        "upload_id": event["upload_id"],
        "jobs": len(event["sizes"]),
        "request_id": context.aws_request_id,
    }


def counts_characters(event, context):
    return {
        "upload_id": event["upload_id"],
        "jobs": len(str(event.get("sizes", ""))),
        "request_id": context.aws_request_id,
    }


def made_up_request_id(event, context):
    return {"upload_id": event["upload_id"], "jobs": len(event.get("sizes", [])), "request_id": "1"}


def no_request_id(event, context):
    return {"upload_id": event["upload_id"], "jobs": len(event.get("sizes", []))}


def uses_a_notebook_global(event, context):
    return {"upload_id": event["upload_id"], "jobs": JOBS_IN_THE_NOTEBOOK}  # noqa: F821


def imports_pandas(event, context):
    import pandas

    sizes = pandas.Series(event.get("sizes", []), dtype=object)
    return {"upload_id": event["upload_id"], "jobs": len(sizes), "request_id": "x"}


def imports_the_standard_library(event, context):
    import json
    from collections import Counter

    sizes = Counter(json.loads(json.dumps(event.get("sizes", []))))
    return {
        "upload_id": event["upload_id"],
        "jobs": sum(sizes.values()),
        "request_id": context.aws_request_id,
    }


def test_q2_right_answer(current):
    outcome = nb05.q2.evaluate(handler)
    assert outcome.status == "correct", outcome.message


def test_q2_a_handler_with_another_name_is_fine(current):
    outcome = nb05.q2.evaluate(handler_with_another_name)
    assert outcome.status == "correct", outcome.message


def handler_with_another_name(event, context):
    sizes = event.get("sizes") or []
    return {
        "upload_id": event["upload_id"],
        "jobs": len(sizes),
        "request_id": context.aws_request_id,
    }


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (forgets_missing_sizes, "lacks a key your handler reads"),
        (imports_pandas, "imports pandas, which would fail on AWS"),
        (counts_characters, "jobs was"),
        (made_up_request_id, "not the id of the invocation"),
        (no_request_id, "has no request_id"),
        (uses_a_notebook_global, "NameError"),
    ],
)
def test_q2_wrong_answers(current, wrong, says):
    outcome = nb05.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "aws_request_id" not in outcome.message
    assert "len(event" not in outcome.message


def test_q2_feedback_fits_the_error(current):
    key_error = nb05.q2.evaluate(forgets_missing_sizes).message
    assert "KeyError" in key_error and "what it imports" not in key_error
    name_error = nb05.q2.evaluate(uses_a_notebook_global).message
    assert "NameError" in name_error and "what it imports" in name_error


def test_q2_the_standard_library_is_allowed(current):
    outcome = nb05.q2.evaluate(imports_the_standard_library)
    assert outcome.status == "correct", outcome.message


def test_q2_not_a_function_and_untouched(current):
    assert "function" in nb05.q2.evaluate(3).message

    def handler(event, context): ...

    assert nb05.q2.evaluate(handler).status == "not attempted"
    assert nb05.q2.evaluate(...).status == "not attempted"


# --- q3 ---------------------------------------------------------------------------------------


def set_greeting(aws_lambda, function_name, greeting):
    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)
    variables = dict(configuration.get("Environment", {}).get("Variables", {}))
    variables["GREETING"] = greeting
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )


def replaces_every_variable(aws_lambda, function_name, greeting):
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": {"GREETING": greeting}}
    )


def fixed_greeting(aws_lambda, function_name, greeting):
    set_greeting(aws_lambda, function_name, "bonjour")


def sets_another_name(aws_lambda, function_name, greeting):
    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)
    variables = dict(configuration["Environment"]["Variables"], greeting=greeting)
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )


def raises(aws_lambda, function_name, greeting):
    aws_lambda.update_function_configuration(FunctionName=function_name, Environment=greeting)


def test_q3_right_answer(current):
    outcome = nb05.q3.evaluate(set_greeting)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (replaces_every_variable, "PHOTO_BUCKET, is gone"),
        (fixed_greeting, "not the greeting the checker passed in"),
        (sets_another_name, "GREETING is 'hello'"),
        (raises, "raised ParamValidationError"),
    ],
)
def test_q3_wrong_answers(current, wrong, says):
    outcome = nb05.q3.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "update_function_configuration(" not in outcome.message


def test_q3_untouched_and_not_a_function(current):
    def set_greeting(aws_lambda, function_name, greeting):
        """Set GREETING, keep the other variables."""
        ...

    assert nb05.q3.evaluate(set_greeting).status == "not attempted"
    assert "function" in nb05.q3.evaluate("bonjour").message


def test_q3_a_function_that_never_returns_fails_in_bounded_time(current, monkeypatch):
    import threading
    import time

    monkeypatch.setattr(nb05, "TIME_LIMIT_SECONDS", 1.0)
    release = threading.Event()

    def hangs(aws_lambda, function_name, greeting):
        release.wait(10)

    started = time.monotonic()
    try:
        outcome = nb05.q3.evaluate(hangs)
    finally:
        release.set()
    assert time.monotonic() - started < 8
    assert outcome.status == "incorrect" and "did not return within" in outcome.message


# --- q4 ---------------------------------------------------------------------------------------


def test_q4_right_answer():
    assert nb05.q4.evaluate(5).status == "correct"
    assert nb05.q4.evaluate(30 / 6).status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (30, "not what AWS recommends"),
        (180, "exceeds the queue's visibility timeout"),
        (3, "not the largest"),
        (1, "cut off"),
        (10, "Too long for the recommendation"),
        ("5 s", "number of seconds"),
    ],
)
def test_q4_wrong_answers(wrong, says):
    outcome = nb05.q4.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert " 5 " not in f" {outcome.message} " and "30 / 6" not in outcome.message


def test_q4_untouched():
    assert nb05.q4.evaluate(...).status == "not attempted"


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb05.q1, nb05.q2, nb05.q3, nb05.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
