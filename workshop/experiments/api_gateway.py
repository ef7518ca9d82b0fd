"""Experiments of notebook 07 (API Gateway to Lambda): the events a Lambda proxy integration
sends, the HTTP answers it makes of what a function returns, and where the time of a request
goes, cold and warm.

Every request is a real HTTP request to the API's invoke URL (:func:`workshop.apis.request`),
the same on the local and the aws backend. Where the time goes is read from the function's
REPORT lines, matched to requests by the Lambda request id the function returns in its body.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm.auto import tqdm

from workshop import apis, lambdas
from workshop.experiments.invocations import BAR_DELAY_S, wait_until_updated
from workshop.experiments.threads import print_final_state

if TYPE_CHECKING:
    from workshop.backends import Backend

SUMMARISED = {"headers", "multiValueHeaders", "multiValueQueryStringParameters", "identity"}
"""Event fields shown as a list of their keys: their values are long and differ per client."""
MISSING = "—"
LATENCY_COLUMNS = [
    "round",
    "call",
    "start",
    "status",
    "latency_ms",
    "init_ms",
    "duration_ms",
    "function_ms",
    "rest_ms",
    "billed_ms",
    "request_id",
]


# --- the events ------------------------------------------------------------------------------


def flatten(event: Any, prefix: str = "") -> dict[str, Any]:
    """An event as ``{"requestContext.http.method": "GET", ...}``: one entry per leaf field.

    Headers and similar maps become one entry listing their keys (their values are long and
    depend on the client); lists stay whole.
    """
    if not isinstance(event, dict):
        return {prefix: event}
    fields: dict[str, Any] = {}
    for key, value in event.items():
        path = f"{prefix}.{key}" if prefix else key
        if key in SUMMARISED and isinstance(value, dict):
            fields[path] = f"{len(value)} keys: " + ", ".join(sorted(value))
        elif isinstance(value, dict) and value:
            fields.update(flatten(value, path))
        else:
            fields[path] = value
    return fields


def _shown(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def side_by_side(events: dict[str, dict], *, width: int = 60) -> pd.DataFrame:
    """Events of several payload formats as one table: a row per field, a column per format.

    ``events`` maps a column name (``"2.0"``) to the event the function received. A field one
    format lacks shows as "—"; long values are cut to ``width`` characters.
    """
    flat = {name: flatten(event) for name, event in events.items()}
    fields: list[str] = []
    for columns in flat.values():
        fields += [field for field in columns if field not in fields]
    rows = {
        field: {
            name: _shown(columns[field], width) if field in columns else MISSING
            for name, columns in flat.items()
        }
        for field in fields
    }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(events))
    frame.index.name = "field"
    return frame


# --- the answers -----------------------------------------------------------------------------


def answers(url: str, queries: dict[str, str]) -> pd.DataFrame:
    """Request ``url`` with each query string and tabulate what came back.

    ``queries`` maps a label to a query string (``{"bare": "shape=bare"}``). A row per label:
    the HTTP status, the content type, the ``location`` header (empty when absent) and the
    body as text.
    """
    rows = []
    for name, query in queries.items():
        answer = apis.request(f"{url}?{query}" if query else url)
        rows.append(
            {
                "request": name,
                "status": answer.status,
                "content-type": answer.headers.get("content-type", ""),
                "location": answer.headers.get("location", ""),
                "body": answer.text,
                "latency_ms": answer.elapsed_ms,
            }
        )
    return pd.DataFrame(rows).set_index("request")


# --- the latency -----------------------------------------------------------------------------


def latency(
    cloud: Backend,
    url: str,
    function_name: str,
    *,
    cold_starts: int = 3,
    warm_calls: int = 15,
) -> pd.DataFrame:
    """End-to-end latency of HTTP requests through an API to a function, cold and warm, with
    the function's share of each request from its REPORT line.

    Each round changes an environment variable of the function (a configuration change: the
    next request finds no environment, a cold start) and then sends ``1 + warm_calls`` GET
    requests to ``url``, one after another. The function must answer 200 with a JSON body
    holding its ``request_id`` (api_hello does); that id finds the call's REPORT line.

    Columns: ``latency_ms`` as the client measured it (connection, request, answer);
    ``function_ms`` = Init Duration (a cold start) + Duration, what the function took;
    ``rest_ms`` = the difference: API Gateway, Lambda's service, the network, the client.
    """
    aws_lambda = cloud.client("lambda")
    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)
    variables = dict((configuration.get("Environment") or {}).get("Variables", {}))
    run, rows = secrets.token_hex(3), []
    started = time.monotonic()
    with tqdm(
        total=cold_starts * (1 + warm_calls), desc="requests", unit="req", delay=BAR_DELAY_S
    ) as bar:
        for round_number in range(1, cold_starts + 1):
            variables["COLD_START_ROUND"] = f"{run}-{round_number}"
            aws_lambda.update_function_configuration(
                FunctionName=function_name, Environment={"Variables": variables}
            )
            wait_until_updated(aws_lambda, function_name)
            for number in range(1 + warm_calls):
                answer = apis.request(url)
                request_id = None
                if answer.status == 200:
                    request_id = answer.json().get("request_id")
                rows.append(
                    {
                        "round": round_number,
                        "call": number,
                        "status": answer.status,
                        "latency_ms": answer.elapsed_ms,
                        "request_id": request_id,
                    }
                )
                bar.update()
    if time.monotonic() - started >= BAR_DELAY_S:
        print_final_state(bar)
    calls = pd.DataFrame(rows)
    reports = reports_of(cloud, function_name, set(calls["request_id"].dropna()))
    frame = calls.merge(
        reports[["request_id", "init_ms", "duration_ms", "billed_ms", "cold_start"]],
        on="request_id",
        how="left",
    )
    frame["start"] = frame["cold_start"].map({True: "cold", False: "warm"})
    frame["function_ms"] = frame["duration_ms"] + frame["init_ms"].fillna(0.0)
    frame["rest_ms"] = frame["latency_ms"] - frame["function_ms"]
    frame["billed_ms"] = pd.to_numeric(frame["billed_ms"]).astype("Int64")
    return frame[LATENCY_COLUMNS]


def reports_of(
    cloud: Backend, function_name: str, request_ids: set[str], *, timeout: float = 30.0
) -> pd.DataFrame:
    """The REPORT lines of exactly these requests, once all are in CloudWatch Logs.

    Counting lines is not enough: the function's log holds the lines of earlier calls too, and
    on AWS the lines of this run arrive seconds late. Returns what is there when ``timeout``
    runs out, even if some are missing.
    """
    deadline = time.monotonic() + timeout
    while True:
        reports = lambdas.reports(cloud, function_name)
        reports = reports[reports["request_id"].isin(request_ids)]
        if set(reports["request_id"]) >= request_ids or time.monotonic() > deadline:
            return reports
        time.sleep(1.0)


def shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Median milliseconds per part of a request, cold and warm (rows), from :func:`latency`."""
    parts = frame.assign(init_ms=frame["init_ms"].fillna(0.0))
    table = parts.groupby("start")[["latency_ms", "init_ms", "duration_ms", "rest_ms"]].median()
    table["requests"] = parts.groupby("start").size()
    return table.reindex([kind for kind in ("cold", "warm") if kind in table.index])
