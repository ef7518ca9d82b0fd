"""Notebook 08's pieces: the photo_processor function, the tables a run is turned into, and the
whole pipeline (HTTP API, SQS, Lambda) on the local cloud, failures included."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import no_workers_left
from matplotlib.figure import Figure

from workshop import lambdas
from workshop.experiments import photo_pipeline as pp
from workshop.plots import photo_pipeline as plots


@pytest.fixture
def app(monkeypatch):
    """functions/photo_processor/app.py imported fresh, recording nowhere (no results queue)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("RESULTS_QUEUE_URL", raising=False)
    path = lambdas.FUNCTIONS_DIR / "photo_processor" / "app.py"
    spec = importlib.util.spec_from_file_location("photo_processor_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("photo_processor_app", None)


def sqs_event(bodies: list[dict]) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
            }
            for body in bodies
        ]
    }


CONTEXT = SimpleNamespace(aws_request_id="req-1")


def test_poison_uploads_fail_every_time_and_only_they(app, monkeypatch):
    monkeypatch.setenv("FAILURE_FRACTION", "0.2")
    keys = [f"k-{i}" for i in range(200)]
    poison = {k for k in keys if app._fails(k, 0.2, "poison")}
    assert 20 <= len(poison) <= 60  # about a fifth, decided by the key alone
    assert poison == {k for k in keys if app._fails(k, 0.2, "poison")}
    assert not any(app._fails(k, 0.0, "poison") for k in keys)
    assert all(app._fails(k, 1.0, "poison") for k in keys)


def test_partial_batch_response_lists_exactly_the_failed(app, monkeypatch):
    monkeypatch.setenv("FAILURE_FRACTION", "0.3")
    monkeypatch.setenv("REPORT_BATCH_ITEM_FAILURES", "1")
    event = sqs_event([{"key": f"k-{i}", "size_kb": 10} for i in range(10)])
    answer = app.handler(event, CONTEXT)
    expected = [
        r["messageId"]
        for r in event["Records"]
        if app._fails(json.loads(r["body"])["key"], 0.3, "poison")
    ]
    assert expected, "the batch should contain a poison key (k-0 .. k-9 at 30 %)"
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in expected]}


def test_without_partial_responses_a_failure_fails_the_batch(app, monkeypatch):
    monkeypatch.setenv("FAILURE_FRACTION", "0.3")
    event = sqs_event([{"key": f"k-{i}", "size_kb": 10} for i in range(10)])
    with pytest.raises(app.PhotoProcessingError, match="of 10 uploads failed"):
        app.handler(event, CONTEXT)
    monkeypatch.setenv("FAILURE_FRACTION", "0")
    assert app.handler(event, CONTEXT) == {"processed": 10}


def test_upload_bodies_have_keys_of_their_own():
    bodies = pp.upload_bodies(450, "run")
    assert len({b["key"] for b in bodies}) == 450
    assert bodies[0]["upload_id"] == bodies[200]["upload_id"] == "up-0000"
    assert pp.send_burst("http://127.0.0.1:9/photos", []).empty


def records_frame() -> pd.DataFrame:
    rows = [
        # request r1: two messages, one failed; r2 redelivers the failed one and a new one
        ("m1", "a", "processed", 1, 0.0, 0.10, 0.20, "r1", "e1", 2),
        ("m2", "b", "failed", 1, 0.0, 0.10, 0.20, "r1", "e1", 2),
        ("m2", "b", "failed", 2, 0.0, 1.00, 1.10, "r2", "e2", 2),
        ("m3", "c", "processed", 1, 0.0, 0.15, 1.05, "r2", "e2", 2),
        ("m1", "a", "processed", 2, 0.0, 1.20, 1.30, "r3", "e1", 1),
    ]
    columns = ["message_id", "key", "outcome", "receive_count", "sent_s", "started_s"]
    columns += ["ended_s", "request_id", "environment", "batch_size"]
    return pd.DataFrame(rows, columns=columns)


def a_run() -> pp.Run:
    requests = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "status": [200, 200, 200, 500],
            "sent_s": [0.0, 0.0, 0.05, 0.1],
            "latency_ms": [5.0, 6.0, 7.0, 8.0],
        }
    )
    dlq = pd.DataFrame({"key": ["b"], "message_id": ["m2"], "receive_count": [3]})
    depth = pd.DataFrame(
        {
            "t_s": [0.0, 0.0, 1.0, 1.0],
            "queue": ["queue", "DLQ"] * 2,
            "visible": [2, 0, 0, 1],
            "in_flight": [1, 0, 0, 0],
        }
    )
    return pp.Run(requests, records_frame(), dlq, depth, started_s=0.0)


def test_invocations_and_concurrency():
    calls = pp.invocations(records_frame())
    assert list(calls["request_id"]) == ["r1", "r2", "r3"]
    assert list(calls["failed"]) == [1, 1, 0]
    assert list(calls["redelivered"]) == [0, 1, 1]
    running = pp.concurrency(calls)
    assert running["running"].max() == 2  # r1 (0.10-0.20) overlaps r2 (0.15-1.10)
    assert running["running"].iloc[-1] == 0


def test_accounting_counts_every_accepted_upload_once():
    tally = pp.accounting(a_run())
    assert tally["sent (accepted by the API)"] == 3  # the 500 was never a message
    assert tally["processed"] == 2 and tally["in the DLQ"] == 1
    assert tally["lost (neither)"] == 0
    assert tally["processed more than once"] == 1  # "a", processed on two receives
    journeys = pp.end_to_end(a_run())
    assert journeys.set_index("key").loc["c", "end_to_end_ms"] == pytest.approx(1000)
    assert pd.isna(journeys.set_index("key").loc["b", "end_to_end_ms"])


def test_plots_return_figures():
    run = a_run()
    calls = pp.invocations(run.records)
    assert isinstance(plots.latencies(run.requests, pp.end_to_end(run)), Figure)
    assert isinstance(plots.burst(run, calls, pp.concurrency(calls)), Figure)
    warm = plots.burst(run, calls, pp.concurrency(calls), warm={"e1"})
    hatched = [bar.get_hatch() for bar in warm.axes[1].patches]
    assert hatched == [None, "///", None]  # e2's first invocation came after a cold start
    runs = {"without": run, "with": run}
    assert isinstance(
        plots.failures(runs, {n: pp.redeliveries(r) for n, r in runs.items()}), Figure
    )


def test_the_pipeline_loses_nothing_with_and_without_partial_responses(cloud, app):
    """Poison uploads end in the DLQ either way; without partial batch responses good uploads
    of their batches are processed again and end there too, and nothing is ever lost."""
    failing = {"FAILURE_FRACTION": "0.2"}
    pipelines = {
        "without": pp.build(cloud, "t-whole", visibility_s=4, environment=failing),
        "with": pp.build(
            cloud, "t-part", visibility_s=4, report_failures=True, environment=failing
        ),
    }
    for pipeline in pipelines.values():  # a stray upload (a warm-up's, say) is not counted
        assert pp.post_upload(pipeline.url, {"key": "stray", "size_kb": 0})["status"] == 200
    # the same uploads to both, as in the notebook: their queues are separate
    runs = pp.run_side_by_side(cloud, pipelines, lambda name: pp.upload_bodies(30, "t"))
    for name, run in runs.items():
        assert "stray" not in set(run.records["key"]) | set(run.dlq["key"]), name
        sent = set(run.sent["key"])
        poison = {k for k in sent if app._fails(k, 0.2, "poison")}
        processed = set(run.records.loc[run.records["outcome"] == "processed", "key"])
        assert run.settled and len(sent) == 30, name
        assert poison and poison <= set(run.dlq["key"]), name
        assert processed == sent - poison, name
        assert processed | set(run.dlq["key"]) == sent, name
        assert (run.requests["latency_ms"] > 0).all()
        assert set(run.depth["queue"]) == {"queue", "DLQ"}
    with_partial, without = runs["with"], runs["without"]
    assert set(with_partial.dlq["key"]) == {
        k for k in with_partial.sent["key"] if app._fails(k, 0.2, "poison")
    }
    assert pp.accounting(with_partial)["processed and in the DLQ"] == 0
    assert pp.accounting(without)["processed and in the DLQ"] > 0
    assert pp.accounting(without)["processed more than once"] > 0
    assert no_workers_left()
