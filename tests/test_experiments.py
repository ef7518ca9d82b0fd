"""The experiments of notebook 01 measure what they claim, account for every message, and stop
by their deadline: small, fast runs against the local cloud."""

from __future__ import annotations

import itertools
import json
import threading
import time

import matplotlib
import pytest
from conftest import make_local, no_workers_left

from workshop.experiments import backlog, polling, threads
from workshop.experiments.polling import Strategy
from workshop.plots import fundamentals as plots

matplotlib.use("Agg")

TIGHT = Strategy("tight", wait_seconds=0)
LONG = Strategy("long", wait_seconds=1)


@pytest.fixture(scope="module")
def compared(server):
    """One polling run shared by the tests that only read its results."""
    cloud = make_local(server)
    try:
        yield polling.compare_polling(
            cloud, messages=12, mean_interval=0.05, strategies=(TIGHT, LONG), progress=False
        )
    finally:
        cloud.cleanup(quiet=True)


def row(summary, strategy: str):
    return summary.set_index("strategy").loc[strategy]


# --- polling --------------------------------------------------------------------------------


def test_every_message_is_accounted_for(compared):
    assert compared.sent == 12
    for strategy in ("tight", "long"):
        r = row(compared.summary, strategy)
        assert r["delivered"] == 12 and r["missing"] == 0 and r["duplicates"] == 0
        got = compared.messages[compared.messages["strategy"] == strategy]
        assert sorted(got["seq"]) == list(range(12))
    assert compared.missing == 0
    assert no_workers_left()


def test_long_polling_makes_far_fewer_empty_receives(compared):
    tight, long = row(compared.summary, "tight"), row(compared.summary, "long")
    assert tight["empty_receives"] > 5 * max(1, long["empty_receives"])
    assert tight["calls_per_message"] > 3 * long["calls_per_message"]
    # ...and pays no latency for it: a long poll returns as soon as a message arrives.
    assert long["median_latency_ms"] < 200


def test_calls_and_latencies_are_consistent(compared):
    calls, messages = compared.calls, compared.messages
    assert (calls["start"] <= calls["end"]).all()
    assert (calls["empty"] == (calls["messages"] == 0)).all()
    per_strategy = calls.groupby("strategy")["messages"].sum()
    assert per_strategy.to_dict() == messages.groupby("strategy").size().to_dict()
    assert (
        (messages["received_at"] - messages["sent_at"]) * 1000 - messages["latency_ms"]
    ).abs().max() < 1e-6
    assert (messages["latency_ms"] > 0).all()
    summary = compared.summary.set_index("strategy")
    assert summary["receive_calls"].to_dict() == calls.groupby("strategy").size().to_dict()


def test_missing_messages_are_reported_by_the_deadline(cloud):
    # A consumer that naps longer than the experiment lasts: the messages never arrive.
    sleepy = Strategy("sleepy", pause_seconds=60)
    started = time.perf_counter()
    result = polling.compare_polling(
        cloud,
        messages=4,
        mean_interval=0.05,
        strategies=(sleepy,),
        deadline_seconds=1.0,
        progress=False,
    )
    assert time.perf_counter() - started < 3
    r = row(result.summary, "sleepy")
    assert r["missing"] == 4 and r["delivered"] == 0
    assert result.missing == 4
    assert no_workers_left()


def test_messages_of_an_earlier_run_are_ignored(cloud, sqs):
    url = cloud.create_queue(f"polling-{LONG.slug}-reused")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"run": "old", "seq": 0, "sent_at": 0}))
    result = polling.compare_polling(
        cloud, messages=3, mean_interval=0.02, strategies=(LONG,), progress=False, suffix="reused"
    )
    r = row(result.summary, "long")
    assert r["delivered"] == 3 and r["duplicates"] == 0
    assert (result.messages["latency_ms"] < 5_000).all()


def queue_names(sqs, cloud) -> list[str]:
    urls = sqs.list_queues(QueueNamePrefix=cloud.prefix).get("QueueUrls", [])
    return sorted(url.rsplit("/", 1)[-1] for url in urls)


def test_a_rerun_uses_fresh_queues_and_leaves_none(cloud, sqs):
    # Two runs back to back: with fixed names the second would meet AWS's 60-second rule for a
    # deleted queue's name (the local cloud enforces it too) and wait a minute.
    started = time.perf_counter()
    for _ in range(2):
        result = polling.compare_polling(
            cloud, messages=2, mean_interval=0.02, strategies=(LONG,), progress=False
        )
        assert result.missing == 0
        backlog.compare_consumers(
            cloud, consumer_counts=(1,), producers=1, messages_per_producer=2, progress=False
        )
        assert queue_names(sqs, cloud) == [], "an experiment left its queue behind"
    assert time.perf_counter() - started < 15


def test_arrivals_are_seeded():
    first = polling.arrival_offsets(200, 0.1, seed=7)
    assert first == polling.arrival_offsets(200, 0.1, seed=7)
    assert first != polling.arrival_offsets(200, 0.1, seed=8)
    assert all(b > a for a, b in itertools.pairwise(first))
    assert 0.07 < first[-1] / 200 < 0.13  # mean gap near the one asked for


def test_strategy_names_make_queue_names():
    assert Strategy("short poll, 0.5 s pause").slug == "short-poll-0-5-s-pause"


# --- backlog --------------------------------------------------------------------------------


def test_depth_counts_visible_and_in_flight(cloud, sqs):
    url = cloud.create_queue("depth")
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    assert backlog.depth(sqs, url) == (2, 0)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    assert backlog.depth(sqs, url) == (1, 1)


def test_backlog_grows_then_drains_and_more_consumers_drain_sooner(cloud):
    result = backlog.compare_consumers(
        cloud,
        consumer_counts=(1, 3),
        producers=2,
        messages_per_producer=10,
        send_interval=0.0,
        work_seconds=0.03,
        sample_interval=0.05,
        progress=False,
    )
    summary = result.summary.set_index("run")
    for run in ("1 consumer", "3 consumers"):
        r = summary.loc[run]
        assert r["sent"] == 20 and r["processed"] == 20
        assert r["duplicates"] == 0 and r["missing"] == 0
        samples = result.samples[result.samples["run"] == run]
        last = samples.iloc[-1]
        assert (last["visible"], last["in_flight"]) == (0, 0), "the queue ends empty"
        span = result.spans.set_index("run").loc[run]
        assert 0 <= span["start"] < span["end"] <= r["drained_at"]
        processed = result.processed[result.processed["run"] == run]
        assert sorted(processed["seq"]) == list(range(20)), "each message processed once"
    one, three = summary.loc["1 consumer"], summary.loc["3 consumers"]
    assert one["peak_visible"] >= 5, "producers outpace one consumer: a backlog builds"
    assert three["drained_at"] < one["drained_at"]
    assert set(result.processed[result.processed["run"] == "3 consumers"]["consumer"]) == {0, 1, 2}
    assert no_workers_left()


def test_a_backlog_run_stops_by_its_deadline_and_reports_what_is_missing(cloud):
    started = time.perf_counter()
    result = backlog.compare_consumers(
        cloud,
        consumer_counts=(1,),
        producers=1,
        messages_per_producer=6,
        work_seconds=0.4,
        deadline_seconds=1.5,
        progress=False,
    )
    assert time.perf_counter() - started < 4
    r = result.summary.iloc[0]
    assert r["sent"] == 6 and r["missing"] >= 2 and r["processed"] + r["missing"] == 6
    assert no_workers_left()


# --- the worker threads ---------------------------------------------------------------------


def test_a_worker_error_reaches_the_caller_and_stops_the_others():
    workers = threads.Workers()
    workers.start("patient", lambda: workers.stop.wait(30))

    def broken() -> None:
        raise ValueError("boom")

    workers.start("broken", broken)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="boom"):
        workers.wait(deadline=time.perf_counter() + 30)
    assert time.perf_counter() - started < 2
    assert not workers.alive()


def test_a_worker_that_ignores_its_deadline_is_reported(monkeypatch):
    monkeypatch.setattr(threads, "GRACE_SECONDS", 0.2)
    release = threading.Event()
    workers = threads.Workers()
    workers.start("stubborn", release.wait, 10)
    try:
        with pytest.raises(TimeoutError, match="stubborn"):
            workers.wait(deadline=time.perf_counter())
    finally:
        release.set()
        workers._join(5)
    assert not workers.alive()


# --- plots ----------------------------------------------------------------------------------


def test_plots_are_titled_and_labelled(compared, cloud):
    fig = plots.polling_cost_and_latency(compared.summary, compared.messages)
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel()
        assert "(" in ax.get_xlabel(), "units or scale in the axis label"
    matplotlib.pyplot.close(fig)

    result = backlog.compare_consumers(
        cloud,
        consumer_counts=(2,),
        producers=1,
        messages_per_producer=3,
        work_seconds=0.0,
        progress=False,
    )
    fig = plots.queue_depth(result.samples, result.spans)
    ax = fig.axes[0]
    assert ax.get_title() == "2 consumers" and "(s)" in ax.get_xlabel() and ax.get_ylabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"producers sending"}
    matplotlib.pyplot.close(fig)
