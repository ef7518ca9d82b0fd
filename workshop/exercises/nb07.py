"""Exercises of notebook 07, API Gateway to Lambda: ``from workshop.exercises import nb07``.

- ``q1``: which route of an HTTP API serves a request (a route key), by AWS's matching rules.
- ``q2``: a handler for an HTTP API (payload format 2.0) that answers 200 with a greeting, or
  400 without a name; the checker puts it behind a real HTTP API and sends it requests.
- ``q3``: from the learner's own latency table, the share of a warm request's time that the
  function's Duration took.
- ``q4``: the statuses a client gets when a function returns JSON without ``statusCode``,
  behind payload format 1.0 and behind 2.0, as a pair.

The checker of q2 creates a function and an HTTP API of its own (``check-api-…``) on the
learner's backend and deletes both, with the function's log group, afterwards.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

import workshop
from workshop import apis
from workshop.exercises.core import CheckedExercise, Incorrect, check_fraction, is_number
from workshop.exercises.nb05 import (
    _function_error_feedback,
    _zip_source,
    handler_source,
    scratch_function,
)

# --- q1 ---------------------------------------------------------------------------------------

Q1_ROUTES = ["GET /photos/{id}", "GET /photos/{proxy+}", "ANY /{proxy+}", "$default"]
Q1_REQUEST = "POST /photos/42"
Q1_EXPECTED = "ANY /{proxy+}"


def _judge_route(answer: Any) -> str:
    if not isinstance(answer, str):
        raise Incorrect("Answer with a route key as a string, such as 'GET /photos/{id}'.")
    given = " ".join(answer.split())
    if given == Q1_EXPECTED:
        return (
            "The path matches `GET /photos/{id}` and `GET /photos/{proxy+}`, but their method "
            "does not: a route names one method (or ANY). `ANY /{proxy+}` matches any method "
            "and any path, so it wins over `$default`, which only takes what no route matches."
        )
    if given not in Q1_ROUTES:
        raise Incorrect(f"Answer with one of the routes: {', '.join(Q1_ROUTES)}.")
    if given.startswith("GET"):
        raise Incorrect(f"{given!r} has the right path, but look at the request's method.")
    raise Incorrect(
        "`$default` takes only the requests that no route matches. Is there one that matches "
        "this method and path?"
    )


q1 = CheckedExercise(
    "Which route serves the request",
    _judge_route,
    hint=(
        "A route matches a request only when both its method (or ANY) and its path match. Among "
        "the routes that match, the most specific wins; `$default` is the last resort."
    ),
    solution=(
        "`'ANY /{proxy+}'`: the two GET routes do not match a POST, and `ANY /{proxy+}` matches "
        "every method and path, so `$default` is not needed."
    ),
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_REQUESTS = [("?name=ana", 200, "hello, ana"), ("?name=Ben", 200, "hello, Ben"), ("", 400, None)]


@contextlib.contextmanager
def _scratch_api(function_name: str):
    """An HTTP API of the checker's own (quick create) in front of a function; deleted after."""
    cloud = workshop.current()
    aws_lambda, v2 = cloud.client("lambda"), cloud.client("apigatewayv2")
    arn = aws_lambda.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    api = v2.create_api(
        Name=cloud.name(f"check-api-{secrets.token_hex(3)}"),
        ProtocolType="HTTP",
        Target=arn,
        Tags=cloud.tags,
    )
    try:
        apis.allow_api_gateway(cloud, function_name, api["ApiId"])
        yield api["ApiEndpoint"]
    finally:
        with contextlib.suppress(ClientError):
            v2.delete_api(ApiId=api["ApiId"])


def _judge_api_handler(handler: Any) -> str:
    source = handler_source(
        handler,
        "nb07.q2.check(handler)",
        "which AWS's Python runtime does not have; the standard library (json) is enough here.",
    )
    print("Checking `handler`: deploying it behind an HTTP API ...", flush=True)
    scratch = scratch_function("check-api", _zip_source(source))
    with scratch as (aws_lambda, name), _scratch_api(name) as endpoint:
        apis.wait_until_served(f"{endpoint}/greet?name=probe", timeout=30)
        for query, status, message in Q2_REQUESTS:
            answer = apis.request(f"{endpoint}/greet{query}")
            said = f"GET /greet{query} answered {answer.status} {answer.text[:200]!r}"
            if answer.status >= 500:
                error = _last_error(aws_lambda, name, query)
                raise Incorrect(f"{said}: the function failed or answered malformed. {error}")
            if answer.status != status:
                raise Incorrect(f"{said}; expected status {status}.")
            if message is None:
                continue
            try:
                document = answer.json()
            except ValueError:
                raise Incorrect(f"{said}: the body is not JSON.") from None
            if not isinstance(document, dict) or document.get("message") != message:
                raise Incorrect(f'{said}; expected the body {{"message": "{message}"}}.')
            if "json" not in answer.headers.get("content-type", ""):
                raise Incorrect(f"{said} with content-type {answer.headers.get('content-type')}.")
    return (
        f"Your handler answered {len(Q2_REQUESTS)} HTTP requests through a real HTTP API: the "
        "status codes came from your function, API Gateway only passed them on."
    )


def _last_error(aws_lambda: Any, name: str, query: str) -> str:
    """What the handler does with the event, invoked directly (a hint for a 5xx)."""
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/greet",
        "rawQueryString": query.lstrip("?"),
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/greet"}},
        "isBase64Encoded": False,
    }
    if query:
        key, _, value = query.lstrip("?").partition("=")
        event["queryStringParameters"] = {key: value}
    response = aws_lambda.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        return _function_error_feedback({"rawQueryString": event["rawQueryString"]}, payload or {})
    return f"The function returned {json.dumps(payload)[:200]}."


q2 = CheckedExercise(
    "A handler behind an HTTP API",
    _judge_api_handler,
    hint=(
        'In a 2.0 event the query string is `event.get("queryStringParameters")`, which is '
        "missing when the request has none. Return a dict with `statusCode`, `headers` and a "
        "`body` that is a string: `json.dumps(...)`."
    ),
    solution=(
        "```python\n"
        "def handler(event, context):\n"
        "    import json\n"
        "\n"
        '    name = (event.get("queryStringParameters") or {}).get("name")\n'
        "    if not name:\n"
        '        status, document = 400, {"error": "name is required"}\n'
        "    else:\n"
        '        status, document = 200, {"message": f"hello, {name}"}\n'
        "    return {\n"
        '        "statusCode": status,\n'
        '        "headers": {"content-type": "application/json"},\n'
        '        "body": json.dumps(document),\n'
        "    }\n"
        "```"
    ),
)


# --- q3 ---------------------------------------------------------------------------------------


def _judge_function_share(answer: Any, latency: Any = None) -> str:
    needed = {"start", "latency_ms", "duration_ms"}
    if not isinstance(latency, pd.DataFrame) or not needed <= set(latency.columns):
        raise Incorrect(
            "Pass your measurement as the second argument: nb07.q3.check(answer, latency)."
        )
    if not is_number(answer):
        raise Incorrect(f"Answer with a fraction between 0 and 1; got {answer!r}.")
    share = float(answer)
    warm = latency[latency["start"] == "warm"].dropna(subset=["latency_ms", "duration_ms"])
    if not len(warm):
        raise Incorrect("This table has no warm requests with a REPORT line: run section 6 again.")
    of_medians = warm["duration_ms"].median() / warm["latency_ms"].median()
    median_of_shares = (warm["duration_ms"] / warm["latency_ms"]).median()

    def near(value: float) -> bool:
        return math.isclose(share, value, abs_tol=0.02)

    if near(of_medians) or near(median_of_shares):
        return (
            f"The function's Duration was about {of_medians:.0%} of a warm request's time; the "
            "rest went to API Gateway, Lambda's service and the network, on every request."
        )
    cold = latency[latency["start"] == "cold"].dropna(subset=["latency_ms", "duration_ms"])
    if len(cold) and near(cold["duration_ms"].median() / cold["latency_ms"].median()):
        raise Incorrect("That is the share for the cold requests; the question asks about warm.")
    if near(1 - of_medians):
        raise Incorrect("That is the share of everything *but* the function.")
    check_fraction(share, of_medians, abs_tol=0.02)
    raise Incorrect(
        'Not quite. Take the rows whose `start` is "warm", and divide the median of '
        "`duration_ms` by the median of `latency_ms`."
    )


q3 = CheckedExercise(
    "The function's share of a warm request",
    _judge_function_share,
    hint=(
        'Filter `latency` to `start == "warm"`; `duration_ms` is what the REPORT line says the '
        "handler took, `latency_ms` what the client waited."
    ),
    solution=(
        "```python\n"
        'warm = latency[latency["start"] == "warm"]\n'
        'answer = warm["duration_ms"].median() / warm["latency_ms"].median()\n'
        "```\n"
        "A handler that only formats a greeting takes a millisecond or less; nearly all of a "
        "warm request is the trip through API Gateway and Lambda's service."
    ),
)


# --- q4 ---------------------------------------------------------------------------------------


def _status(value: Any) -> str:
    """A status as the learner would write it: 502, not 502.0."""
    return str(int(value)) if is_number(value) and float(value).is_integer() else repr(value)


def _judge_bare_json(answer: Any) -> str:
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Incorrect(
            "Answer with a pair of statuses: (the status under 1.0, the status under 2.0)."
        )
    if not all(is_number(status) for status in answer):
        raise Incorrect(f"Both parts of the pair are HTTP status codes (numbers); got {answer!r}.")
    v1, v2 = (float(status) for status in answer)
    shown = f"({_status(answer[0])}, {_status(answer[1])})"
    if 502 in (v1, v2):
        raise Incorrect(
            "502 is what a REST API answers; an HTTP API answers a malformed response with 500 "
            "(section 5's table)."
        )
    if (v1, v2) == (500, 200):
        return (
            "Format 1.0 requires `statusCode`, so the answer is malformed: 500. Format 2.0 "
            "guesses: 200, with the JSON as the body and `content-type: application/json`."
        )
    if (v1, v2) == (200, 500):
        raise Incorrect(
            f"{shown}: neither is right for its format. Which format guesses a status for JSON "
            "without `statusCode`?"
        )
    if v1 == 500:
        raise Incorrect(
            f"{shown}: right for 1.0. Format 2.0 accepts JSON without `statusCode`; with what?"
        )
    if v2 == 200:
        raise Incorrect(
            f"{shown}: right for 2.0. Does format 1.0 accept an answer without `statusCode`?"
        )
    raise Incorrect(f"{shown} is not it; hint() gives a nudge.")


q4 = CheckedExercise(
    "JSON without statusCode, payload formats 1.0 and 2.0",
    _judge_bare_json,
    hint=(
        "Section 5 sent `?shape=bare` to both formats. Format 2.0 makes a guess about JSON "
        "without `statusCode`; does 1.0?"
    ),
    solution=(
        "`(500, 200)`: with payload format 1.0 the function must return `statusCode` (and a "
        "string `body`); anything else is a malformed response, and an HTTP API answers it with "
        '500 `{"message":"Internal Server Error"}`. Format 2.0 takes JSON without `statusCode` '
        "as the body of a 200 with `content-type: application/json`."
    ),
)
