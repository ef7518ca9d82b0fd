"""Notebook 07's experiments and plot, on the local backend: the events side by side, the
answers a function's shapes get, and the latency of requests split by their REPORT lines."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from workshop import apis, lambdas
from workshop.experiments import api_gateway
from workshop.plots import api_gateway as plots


def _api(cloud, folder: str, routes: dict[str, str]) -> tuple[str, str]:
    """Deploy ``functions/<folder>`` behind a new HTTP API with ``{route key: payload format}``;
    return the function's name and the API's endpoint."""
    aws_lambda, v2 = cloud.client("lambda"), cloud.client("apigatewayv2")
    name = lambdas.deploy(cloud, folder)
    arn = aws_lambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = v2.create_api(Name=cloud.name(folder), ProtocolType="HTTP", Tags=cloud.tags)
    assert sorted(apis.lambda_routes(cloud, api["ApiId"], arn, routes)) == sorted(routes)
    apis.allow_api_gateway(cloud, name, api["ApiId"])
    return name, api["ApiEndpoint"]


# --- flatten and side_by_side: pure ---------------------------------------------------------


def test_flatten_names_every_leaf_and_summarises_headers():
    event = {
        "version": "2.0",
        "headers": {"b": "2", "a": "1"},
        "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
        "cookies": ["x=1"],
        "pathParameters": {},
    }
    assert api_gateway.flatten(event) == {
        "version": "2.0",
        "headers": "2 keys: a, b",
        "requestContext.http.method": "GET",
        "requestContext.stage": "$default",
        "cookies": ["x=1"],
        "pathParameters": {},
    }


def test_side_by_side_marks_what_a_format_lacks_and_cuts_long_values():
    table = api_gateway.side_by_side(
        {"2.0": {"rawPath": "/a", "body": "x" * 100}, "1.0": {"path": "/a", "body": None}},
        width=10,
    )
    assert list(table.columns) == ["2.0", "1.0"]
    assert table.loc["rawPath"].tolist() == ["/a", api_gateway.MISSING]
    assert table.loc["path"].tolist() == [api_gateway.MISSING, "/a"]
    assert table.loc["body"].tolist() == ["x" * 9 + "…", "null"]


# --- against the local cloud ------------------------------------------------------------------


def test_both_formats_reach_the_function_and_differ_as_aws_documents(cloud):
    _, endpoint = _api(cloud, "api_echo", {"ANY /v2/{proxy+}": "2.0", "ANY /v1/{proxy+}": "1.0"})
    events = {
        version: apis.request(
            f"{endpoint}/v{version[0]}/a/b?k=1&k=2", "POST", {"x": 1}, {"Cookie": "c=1; d=2"}
        ).json()["event"]
        for version in ("2.0", "1.0")
    }
    table = api_gateway.side_by_side(events)
    assert table.loc["version"].tolist() == ["2.0", "1.0"]
    assert table.loc["rawPath", "2.0"] == "/v2/a/b" and table.loc["rawPath", "1.0"] == "—"
    assert table.loc["httpMethod"].tolist() == ["—", "POST"]
    assert table.loc["queryStringParameters.k"].tolist() == ["1,2", "2"]
    assert table.loc["cookies", "2.0"] == '["c=1", "d=2"]'
    models = pytest.importorskip("aws_lambda_powertools.utilities.parser.models")
    models.APIGatewayProxyEventV2Model.model_validate(events["2.0"])
    models.APIGatewayProxyEventModel.model_validate(events["1.0"])


def test_answers_tabulates_what_each_shape_got(cloud):
    _, endpoint = _api(cloud, "api_responses", {"GET /orders": "2.0"})
    table = api_gateway.answers(
        f"{endpoint}/orders", {"created": "shape=created", "bare": "shape=bare", "plain": ""}
    )
    assert table["status"].to_dict() == {"created": 201, "bare": 200, "plain": 200}
    assert table.loc["bare", "content-type"] == "application/json"
    assert table.loc["created", "location"] == "/orders/o-1"
    assert table.loc["bare", "location"] == ""
    assert table.loc["plain", "body"] == "ok"
    assert (table["latency_ms"] > 0).all()


def test_latency_splits_each_request_by_its_report_line(cloud):
    name, endpoint = _api(cloud, "api_hello", {"GET /hello/{name}": "2.0"})
    earlier = apis.request(f"{endpoint}/hello/zoe")  # a REPORT line that is not of this run
    assert earlier.status == 200, earlier
    requests = api_gateway.latency(
        cloud, f"{endpoint}/hello/ana", name, cold_starts=2, warm_calls=3
    )
    assert len(requests) == 8 and (requests["status"] == 200).all()
    assert earlier.json()["request_id"] not in set(requests["request_id"])
    assert requests["start"].tolist() == (["cold"] + ["warm"] * 3) * 2
    assert requests["request_id"].nunique() == 8
    cold = requests[requests["start"] == "cold"]
    assert (cold["init_ms"] > 0).all() and requests.loc[
        requests["call"] > 0, "init_ms"
    ].isna().all()
    total = requests["function_ms"] + requests["rest_ms"]
    assert total.round(6).tolist() == requests["latency_ms"].round(6).tolist()
    assert (requests["function_ms"] < requests["latency_ms"]).all()
    shares = api_gateway.shares(requests)
    assert shares.index.tolist() == ["cold", "warm"]
    assert shares["requests"].tolist() == [2, 6]
    assert shares.loc["warm", "init_ms"] == 0
    figure = plots.latency(requests)
    assert [ax.get_title() for ax in figure.axes] == [
        "HTTP request to the function and back",
        "Where a request's time goes",
    ]
    plt.close(figure)


def test_reports_of_waits_for_every_id_and_returns_only_those(cloud):
    name, endpoint = _api(cloud, "api_hello", {"GET /hello/{name}": "2.0"})
    ids = {apis.request(f"{endpoint}/hello/{who}").json()["request_id"] for who in ("ana", "ben")}
    found = api_gateway.reports_of(cloud, name, ids)
    assert set(found["request_id"]) == ids and len(found) == 2
    started = time.monotonic()
    partial = api_gateway.reports_of(cloud, name, ids | {"no-such-request"}, timeout=1.0)
    assert time.monotonic() - started >= 1.0  # it waited for the missing one, then gave up
    assert set(partial["request_id"]) == ids


def test_latency_keeps_failed_requests_without_a_report(cloud):
    name, endpoint = _api(cloud, "api_hello", {"GET /hello/{name}": "2.0"})
    requests = api_gateway.latency(
        cloud, f"{endpoint}/hello/R2D2", name, cold_starts=1, warm_calls=1
    )
    assert requests["status"].tolist() == [400, 400]
    assert requests["request_id"].isna().all() and requests["duration_ms"].isna().all()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
