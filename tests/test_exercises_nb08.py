"""Every checker of notebook 08: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted"."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workshop.exercises import nb08

# --- q1 ---------------------------------------------------------------------------------------

BATCHES = pd.DataFrame({"request_id": list("abcde"), "batch_size": [10, 10, 10, 6, 4]})


def test_q1_right_answer_passes():
    outcome = nb08.q1.evaluate(8.0, BATCHES)
    assert outcome.correct, outcome
    assert nb08.q1.evaluate(np.float64(40 / 5), BATCHES).correct


@pytest.mark.parametrize(
    ("answer", "says"),
    [(5, "number of invocations"), (10, "largest batch"), (7.0, "not it"), ("8", "number")],
)
def test_q1_wrong_answers_fail_with_a_reason(answer, says):
    outcome = nb08.q1.evaluate(answer, BATCHES)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "8.0" not in outcome.message


def test_q1_needs_the_table():
    assert nb08.q1.evaluate(8.0).status == "incorrect"
    assert nb08.q1.evaluate(8.0, BATCHES.head(0)).status == "incorrect"


def test_q1_not_attempted():
    assert nb08.q1.evaluate(..., BATCHES).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def is_valid(body):
    try:
        upload = json.loads(body)
    except ValueError:
        return False
    return isinstance(upload, dict) and "upload_id" in upload


def right(event, context):
    failures = [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if not is_valid(r["body"])
    ]
    return {"batchItemFailures": failures}


def right_returning_none_when_all_good(event, context):
    answer = right(event, context)
    return answer if answer["batchItemFailures"] else None


def raises_on_bad_json(event, context):
    for record in event["Records"]:
        json.loads(record["body"])
    return {"batchItemFailures": []}


def reports_receipt_handles(event, context):
    failures = [
        {"itemIdentifier": r["receiptHandle"]} for r in event["Records"] if not is_valid(r["body"])
    ]
    return {"batchItemFailures": failures}


def plain_list_of_ids(event, context):
    return {"batchItemFailures": [r["messageId"] for r in event["Records"]][:0] or None}


def misses_missing_upload_id(event, context):
    failures = []
    for record in event["Records"]:
        try:
            json.loads(record["body"])
        except ValueError:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def reports_the_good_ones(event, context):
    failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if is_valid(r["body"])]
    return {"batchItemFailures": failures}


def returns_a_set(event, context):
    return {"batchItemFailures": {r["messageId"] for r in event["Records"]}}


def test_q2_right_answers_pass():
    for handler in (right, right_returning_none_when_all_good):
        outcome = nb08.q2.evaluate(handler)
        assert outcome.correct, (handler.__name__, outcome)


@pytest.mark.parametrize(
    ("handler", "says"),
    [
        (raises_on_bad_json, "raised"),
        (reports_receipt_handles, "whole batch"),
        (plain_list_of_ids, "leave 0 message"),
        (misses_missing_upload_id, "invalid"),
        (reports_the_good_ones, "invalid"),
        (returns_a_set, "JSON cannot encode"),
    ],
)
def test_q2_wrong_handlers_fail_with_a_reason(handler, says):
    outcome = nb08.q2.evaluate(handler)
    assert outcome.status == "incorrect", (handler.__name__, outcome)
    assert says in outcome.message, outcome.message


def test_q2_not_a_function():
    outcome = nb08.q2.evaluate({"batchItemFailures": []})
    assert outcome.status == "incorrect"
    assert "without calling it" in outcome.message


def test_q2_not_attempted():
    def handler(event, context): ...

    assert nb08.q2.evaluate(handler).status == "not attempted"


# --- q3 ---------------------------------------------------------------------------------------


def test_q3():
    assert nb08.q3.evaluate(4).correct
    assert nb08.q3.evaluate(5).status == "incorrect"
    assert nb08.q3.evaluate(1).status == "incorrect"
    assert nb08.q3.evaluate(...).status == "not attempted"


def test_solutions_and_hints_print(capsys):
    for exercise in (nb08.q1, nb08.q2, nb08.q3):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint") == 3 and printed.count("Solution") == 3


def test_q2_solution_is_right():
    source = nb08.q2._solution.split("```python\n")[1].split("```")[0]
    scope: dict = {}
    exec(source, scope)
    assert nb08.q2.evaluate(scope["handler"]).correct
