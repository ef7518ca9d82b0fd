"""Every checker of notebook 07: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and the checker that builds an HTTP API
deletes it, and its function, afterwards."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from workshop.exercises import nb07

# --- q1 ---------------------------------------------------------------------------------------


def test_q1_right_answer():
    assert nb07.q1.evaluate("ANY /{proxy+}").status == "correct"
    assert nb07.q1.evaluate("ANY  /{proxy+} ").status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        ("GET /photos/{id}", "method"),
        ("GET /photos/{proxy+}", "method"),
        ("$default", "no route matches"),
        ("POST /photos/42", "one of the routes"),
        (42, "route key as a string"),
    ],
)
def test_q1_wrong_answers(wrong, says):
    outcome = nb07.q1.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "ANY /{proxy+}" not in outcome.message or "one of the routes" in outcome.message


def test_q1_not_attempted():
    assert nb07.q1.evaluate(...).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def handler(event, context):
    import json

    name = (event.get("queryStringParameters") or {}).get("name")
    if not name:
        status, document = 400, {"error": "name is required"}
    else:
        status, document = 200, {"message": f"hello, {name}"}
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(document),
    }


def always_200(event, context):
    import json

    name = (event.get("queryStringParameters") or {}).get("name", "nobody")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"hello, {name}"}),
    }


def reads_a_missing_key(event, context):
    import json

    name = event["queryStringParameters"]["name"]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"hello, {name}"}),
    }


def no_content_type(event, context):
    import json

    name = (event.get("queryStringParameters") or {}).get("name")
    return {"statusCode": 200 if name else 400, "body": json.dumps({"message": f"hello, {name}"})}


def dict_body(event, context):
    name = (event.get("queryStringParameters") or {}).get("name")
    return {"statusCode": 200 if name else 400, "body": {"message": f"hello, {name}"}}


def test_q2_right_answer_runs_behind_a_real_api(current):
    outcome = nb07.q2.evaluate(handler)
    assert outcome.status == "correct", outcome.message
    apis = current.client("apigatewayv2").get_apis()["Items"]
    left = [api["Name"] for api in apis if api["Name"].startswith(current.prefix)]
    assert left == [], "the checker left its API behind"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (always_200, "expected status 400"),
        (reads_a_missing_key, "KeyError"),
        (dict_body, "failed or answered malformed"),
        (no_content_type, "content-type None"),
    ],
)
def test_q2_wrong_answers(current, wrong, says):
    outcome = nb07.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message, outcome.message


def test_q2_not_attempted_and_not_callable(current):
    def untouched(event, context): ...

    assert nb07.q2.evaluate(...).status == "not attempted"
    assert nb07.q2.evaluate(untouched).status == "not attempted"
    assert "without calling it" in nb07.q2.evaluate({"statusCode": 200}).message


# --- q3 ---------------------------------------------------------------------------------------

REQUESTS = pd.DataFrame(
    {
        "start": ["cold"] + ["warm"] * 5,
        "latency_ms": [200.0, 4.0, 5.0, 4.0, 6.0, 5.0],
        "duration_ms": [2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    }
)  # warm: median Duration 1 ms of a median 5 ms


def test_q3_right_answer():
    assert nb07.q3.evaluate(0.2, REQUESTS).status == "correct"
    assert nb07.q3.evaluate(0.21, REQUESTS).status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (0.8, "*but* the function"),
        (20, "not as a percentage"),
        (0.01, "cold"),
        (0.5, "Not quite"),
        (1.5, "between 0 and 1"),
        ("a fifth", "fraction"),
    ],
)
def test_q3_wrong_answers(wrong, says):
    outcome = nb07.q3.evaluate(wrong, REQUESTS)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "0.2" not in outcome.message and "20%" not in outcome.message


def test_q3_needs_the_table_and_an_answer():
    assert "latency" in nb07.q3.evaluate(0.2).message
    assert nb07.q3.evaluate(..., REQUESTS).status == "not attempted"


# --- q4 ---------------------------------------------------------------------------------------


def test_q4_right_answer():
    outcome = nb07.q4.evaluate((500, 200))
    assert outcome.status == "correct", outcome.message
    assert nb07.q4.evaluate([500.0, 200]).status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        ((502, 200), "REST API"),
        ((500, 502), "REST API"),
        ((200, 500), "neither"),
        ((200, 200), "right for 2.0"),
        ((500, 500), "right for 1.0"),
        ((404, 400), "(404, 400) is not it"),
        (500, "pair"),
        (("500", "200"), "numbers"),
    ],
)
def test_q4_wrong_answers(wrong, says):
    outcome = nb07.q4.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert not re.search(r"\d{3}\.0", outcome.message)  # statuses print as integers
    assert "(500, 200)" not in outcome.message


def test_q4_not_attempted():
    assert nb07.q4.evaluate(...).status == "not attempted"
