"""Notebook 05's experiments and plots, on the local backend: timed invocations with their
REPORT lines, forced cold starts, simultaneous calls and throttling."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from workshop import lambdas
from workshop.experiments import invocations
from workshop.plots import invocations as plots


@pytest.fixture
def aws_lambda(cloud):
    return cloud.client("lambda")


def test_call_measures_the_round_trip_and_reads_the_report(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "counter")
    cold = invocations.call(aws_lambda, name)
    warm = invocations.call(aws_lambda, name, t0=0.0)
    assert cold["status"] == 200 and cold["error"] is None
    assert cold["cold_start"] is True and cold["init_ms"] > 0
    assert cold["billed_ms"] >= cold["init_ms"]  # Init is billed
    assert warm["cold_start"] is False and math.isnan(warm["init_ms"])
    assert warm["environment"] == cold["environment"] == cold["payload"]["environment"]
    assert 0 < cold["duration_ms"] < cold["latency_ms"]
    assert warm["started_s"] > 1000  # counted from t0=0.0, a perf_counter value long past


def test_call_reports_function_errors_and_api_errors_without_raising(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "faulty")
    failed = invocations.call(aws_lambda, name, {"action": "raise", "upload_id": "u-1"})
    assert failed["status"] == 200 and failed["error"] == "ValueError"
    assert failed["payload"]["errorMessage"] == "upload u-1 is not a picture"
    missing = invocations.call(aws_lambda, cloud.name("no-such-function"))
    assert missing["status"] == 404 and missing["error"] == "ResourceNotFoundException"
    assert missing["cold_start"] is None and missing["payload"] is None


def test_a_timeout_replaces_the_environment(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "faulty", Timeout=1)
    before = invocations.call(aws_lambda, name)
    timed_out = invocations.call(aws_lambda, name, {"action": "sleep", "seconds": 3})
    after = invocations.call(aws_lambda, name)
    assert timed_out["error"] == "Sandbox.Timedout"
    assert 1000 <= timed_out["latency_ms"] < 2500
    assert after["environment"] != before["environment"]
    assert after["payload"]["invocations"] == 1  # module globals start again


def test_running_out_of_memory_ends_the_environment(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "faulty")  # 128 MB
    before = invocations.call(aws_lambda, name)
    failed = invocations.call(aws_lambda, name, {"action": "allocate", "mb": 200})
    after = invocations.call(aws_lambda, name)
    assert failed["error"] == "Runtime.OutOfMemory" and failed["status"] == 200
    assert failed["max_memory_mb"] <= failed["memory_mb"] == 128  # reported at most the size
    assert after["cold_start"] is True and after["payload"]["invocations"] == 1
    assert after["environment"] != before["environment"]
    within = invocations.call(aws_lambda, name, {"action": "allocate", "mb": 20})
    assert within["error"] is None and within["payload"]["invocations"] == 2


def test_cold_and_warm_forces_one_cold_start_per_round(cloud):
    name = lambdas.deploy(cloud, "hello", Environment={"Variables": {"KEEP": "me"}})
    calls = invocations.cold_and_warm(cloud, name, cold_starts=2, warm_calls=2)
    assert list(calls["start"]) == ["cold", "warm", "warm"] * 2
    assert calls["version"].nunique() == 2
    cold, warm = calls[calls["start"] == "cold"], calls[calls["start"] == "warm"]
    assert cold["init_ms"].notna().all() and warm["init_ms"].isna().all()
    assert (cold["billed_ms"] >= cold["init_ms"]).all()
    variables = cloud.client("lambda").get_function_configuration(FunctionName=name)
    assert variables["Environment"]["Variables"]["KEEP"] == "me"  # the other variables stay
    figure = plots.cold_and_warm(calls)
    assert [ax.get_title() for ax in figure.axes] == [
        "Invoke round trip, as the caller saw it",
        "Where a cold call's time goes",
    ]
    assert all(ax.get_xlabel() for ax in figure.axes)
    assert "restore_ms" in calls.columns and calls["restore_ms"].isna().all()  # no snapshots
    box_lines = figure.axes[0].lines  # a box plot draws lines: box, whiskers, caps, median
    assert list(box_lines) == [], "a few calls are drawn as points, without a box to hide them"
    plt.close(figure)


def test_burst_gives_simultaneous_calls_their_own_environments(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "counter")
    calls = invocations.burst(aws_lambda, name, calls=3, seconds=0.3, waves=2, pause=0.0)
    first, second = calls[calls["wave"] == 1], calls[calls["wave"] == 2]
    assert (calls["outcome"] == "ran").all()
    assert first["environment"].nunique() == 3 and first["cold_start"].all()
    assert set(second["environment"]) == set(first["environment"])  # reused, warm
    assert not second["cold_start"].any()
    assert (first["ended_s"] <= second["started_s"].min()).all()
    figure = plots.timeline(calls, title="3 calls at once, twice")
    assert len(figure.axes[0].get_yticks()) == 3
    plt.close(figure)


def test_reserved_concurrency_throttles_the_rest(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "counter")
    aws_lambda.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    no_retries = cloud.client("lambda", retries=False)
    calls = invocations.burst(no_retries, name, calls=3, seconds=0.4)
    assert sorted(calls["outcome"]) == ["ran", "throttled", "throttled"]
    throttled = calls[calls["outcome"] == "throttled"]
    assert set(throttled["status"]) == {429}
    assert set(throttled["error"]) == {"TooManyRequestsException"}
    figure = plots.timeline(calls, title="throttled")
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels[-1] == "throttled, 429 (2)"
    plt.close(figure)


def test_wait_for_reports_returns_once_enough_are_there(cloud, aws_lambda):
    name = lambdas.deploy(cloud, "hello")
    for _ in range(3):
        invocations.call(aws_lambda, name)
    reports = invocations.wait_for_reports(cloud, name, at_least=3, timeout=5)
    assert len(reports) == 3 and reports["cold_start"].tolist() == [True, False, False]
    few = invocations.wait_for_reports(cloud, name, at_least=10, timeout=0)
    assert len(few) == 3  # gives up at the timeout with what is there
