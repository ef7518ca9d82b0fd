"""The experiments of notebook 03 measure what they claim: duplicates and early deliveries on a
standard queue in realism mode, order and parallelism of FIFO message groups, a group held back
by a message in flight, and deduplication. Small, fast runs against the local cloud."""

from __future__ import annotations

import json

import matplotlib
import pytest
from conftest import make_local, no_workers_left

from workshop.experiments import ordering
from workshop.plots import ordering as plots

matplotlib.use("Agg")


def message(message_id: str, user: str, size_kb: int = 100) -> dict:
    return {"MessageId": message_id, "Body": json.dumps({"user": user, "size_kb": size_kb})}


# --- the two counters -------------------------------------------------------------------------


def test_the_naive_counter_counts_repeats_and_the_idempotent_one_does_not():
    naive, idempotent = ordering.NaiveCounter(), ordering.IdempotentCounter()
    for m in (
        message("1", "ana"),
        message("2", "ana", 50),
        message("1", "ana"),
        message("3", "bo"),
    ):
        naive.process(m)
        idempotent.process(m)
    assert naive.uploads == {"ana": 3, "bo": 1} and naive.kilobytes == 350
    assert idempotent.uploads == {"ana": 2, "bo": 1} and idempotent.kilobytes == 250
    assert idempotent.skipped == 1 and idempotent.processed_ids == {"1", "2", "3"}


# --- realism mode on a standard queue ---------------------------------------------------------


def test_duplicates_fool_the_naive_count_and_not_the_idempotent_one(cloud, sqs):
    result = ordering.count_uploads(cloud, uploads=30, duplicate=0.3, reorder=0.4, seed=5)
    s = result.summary
    assert s["sent"] == 30 and s["missing"] == 0 and s["realism"]
    assert s["duplicates"] > 0, "realism mode with duplicate=0.3 must deliver some twice"
    assert s["out_of_order"] > 0, "reorder=0.4 must deliver some before an earlier message"
    assert s["deliveries"] == 30 + s["duplicates"]
    totals = result.totals.set_index("counter")
    assert totals.loc["idempotent", "uploads"] == totals.loc["truth", "uploads"] == 30
    assert totals.loc["naive", "uploads"] == 30 + s["duplicates"]
    assert totals.loc["idempotent", "kilobytes"] == totals.loc["truth", "kilobytes"]
    assert totals.loc["naive", "kilobytes"] > totals.loc["truth", "kilobytes"]
    per_user = result.per_user
    assert (per_user["idempotent"] == per_user["truth"]).all()
    assert (per_user["naive"] - per_user["truth"]).sum() == s["duplicates"]
    d = result.deliveries
    assert sorted(d.loc[d["delivery"] == 1, "seq"]) == list(range(30)), "every upload once"
    repeats = d[d["delivery"] > 1]
    assert set(repeats["message_id"]) <= set(d.loc[d["delivery"] == 1, "message_id"])
    assert list(d["position"]) == list(range(len(d)))

    # Realism mode is off again afterwards: the same queue now delivers each message once.
    for i in range(12):
        sqs.send_message(QueueUrl=result.queue_url, MessageBody=str(i))
    got = ordering.receive_all(sqs, result.queue_url, expected=12)
    assert sorted(int(m["Body"]) for m in got) == list(range(12))


def test_on_aws_realism_is_asked_for_once_and_never_turned_off(cloud, monkeypatch):
    # The aws backend prints a remark on every call: once is enough.
    calls = []
    monkeypatch.setattr(cloud, "kind", "aws")
    monkeypatch.setattr(cloud, "set_sqs_realism", lambda url, **kwargs: calls.append(kwargs))
    result = ordering.count_uploads(cloud, uploads=10, duplicate=0.1, reorder=0.1)
    assert len(calls) == 1 and calls[0]["duplicate"] == 0.1
    assert result.summary["realism"] is False and result.summary["missing"] == 0


def test_without_realism_every_count_is_right_and_in_order(cloud):
    result = ordering.count_uploads(cloud, uploads=25, duplicate=0, reorder=0)
    s = result.summary
    assert (s["duplicates"], s["out_of_order"], s["missing"]) == (0, 0, 0)
    assert result.totals["uploads"].nunique() == 1
    assert list(result.deliveries["seq"]) == list(range(25))


# --- FIFO message groups ----------------------------------------------------------------------


def test_max_overlap():
    assert ordering.max_overlap([]) == 0
    assert ordering.max_overlap([(0, 1), (1, 2), (2, 3)]) == 1  # touching is not overlapping
    assert ordering.max_overlap([(0, 2), (1, 3), (1.5, 1.6)]) == 3


def test_groups_keep_their_order_and_run_in_parallel(cloud):
    result = ordering.fifo_groups(cloud, groups=3, per_group=4, consumers=3, work_seconds=0.05)
    processed, summary = result.processed, result.summary
    assert len(processed) == 12 and summary["messages"].tolist() == [4, 4, 4]
    assert summary["in_order"].all()
    assert (summary["max_in_flight"] == 1).all(), "one message of a group in flight at a time"
    assert result.max_groups_at_once >= 2, "different groups are processed at the same time"
    assert (processed["received"] < processed["deleted"]).all()
    assert processed["upload_id"].is_unique
    assert no_workers_left()


def test_the_group_summary_notices_disorder_and_overlap():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "group": ["a", "a", "b"],
            "seq": [1, 0, 0],
            "upload_id": ["x", "y", "z"],
            "consumer": [0, 1, 0],
            "received": [0.0, 0.5, 0.0],
            "deleted": [1.0, 1.5, 0.2],
        }
    )
    summary = ordering.summarise_groups(frame).set_index("group")
    assert not summary.loc["a", "in_order"] and summary.loc["a", "max_in_flight"] == 2
    assert summary.loc["b", "in_order"] and summary.loc["a", "consumers"] == 2


def test_a_held_group_waits_for_the_delete_or_the_visibility_timeout(cloud):
    result = ordering.held_back_group(
        cloud, visibility_timeout=1, slow_seconds=0.4, per_group=2, work_seconds=0.02
    )
    waits = result.waits.set_index("group")["waited"]
    assert 0.4 <= waits["slow"] < 0.75, "the slow group resumes after its delete"
    assert 1.0 <= waits["crashed"] < 2.0, "the crashed group resumes after the timeout"
    assert waits["free"] < 0.4, "the free group never waits for the others"
    spans = result.spans
    crashed = spans[(spans["group"] == "crashed") & (spans["seq"] == 0)].sort_values("received")
    assert list(crashed["consumer"]) == ["crashed worker", "poller"]
    assert list(crashed["how"]) == ["visibility expired", "deleted"]
    assert list(crashed["receive_count"]) == [1, 2]
    assert (spans.groupby("group")["seq"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert len(spans) == 2 * 3 + 1
    assert result.queue_url.endswith(".fifo") and "held" in result.queue_url
    assert no_workers_left()


def test_the_slow_worker_must_finish_within_the_timeout(cloud):
    with pytest.raises(ValueError, match="within the visibility timeout"):
        ordering.held_back_group(cloud, visibility_timeout=1, slow_seconds=1.0)


# --- deduplication ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deduplicated(server):
    """One deduplication run shared by the tests that only read its results."""
    cloud = make_local(server)
    try:
        yield ordering.deduplication(cloud)
    finally:
        cloud.cleanup(quiet=True)


def test_duplicate_sends_succeed_and_are_not_delivered(deduplicated):
    result = deduplicated
    sends = result.sends
    assert sends["succeeded"].all()
    assert sends["delivered"].tolist() == [1, 0, 1, 1, 1, 0, 1, 1]
    assert sends.loc[0, "deduplication_id"].startswith("sha256:")
    summary = result.summary.set_index("queue")
    for queue in ("content", "explicit"):
        assert summary.loc[queue, "sends"] == 4 and summary.loc[queue, "deliveries"] == 3
        assert summary.loc[queue, "dropped_as_duplicates"] == 1


def test_the_window_outlives_the_first_copy(deduplicated):
    after = deduplicated.after_delete.iloc[0]
    assert after["succeeded"] and after["delivered"] == 0


def test_dedup_sends_cover_both_rules():
    sends = ordering.dedup_sends(['{"a": 1}', '{"b": 2}'])
    content = [s for s in sends if s.queue == "content"]
    explicit = [s for s in sends if s.queue == "explicit"]
    assert content[0].body == content[1].body and content[1].deduplication_id is None
    assert explicit[0].deduplication_id == explicit[1].deduplication_id
    assert explicit[0].body != explicit[1].body


# --- FIFO mistakes ----------------------------------------------------------------------------


def test_every_fifo_mistake_is_refused_with_its_full_message(cloud, sqs):
    url = cloud.create_queue("mistakes", fifo=True, ContentBasedDeduplication=True)
    errors = ordering.fifo_mistakes(cloud, url, json.dumps({"user": "femi"}))
    assert list(errors.columns) == ["mistake", "call", "code", "message"]
    assert len(errors) == 4 and "(no error)" not in set(errors["code"])
    codes = dict(zip(errors["mistake"], errors["code"], strict=True))
    assert codes["no MessageGroupId"] == "MissingParameter"
    assert codes["per-message DelaySeconds"] == "InvalidParameterValue"
    message = errors.set_index("mistake").loc["no MessageGroupId", "message"]
    assert message == "The request must contain the parameter MessageGroupId."
    names = [u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])]
    assert not [n for n in names if "no-suffix" in n], "the queue without .fifo was created"


# --- plots ------------------------------------------------------------------------------------


def test_plots_are_titled_and_labelled(cloud):
    counted = ordering.count_uploads(cloud, uploads=12, duplicate=0.3, reorder=0.3, seed=1)
    groups = ordering.fifo_groups(cloud, groups=2, per_group=2, consumers=2, work_seconds=0.01)
    held = ordering.held_back_group(
        cloud, visibility_timeout=1, slow_seconds=0.2, per_group=1, work_seconds=0.01
    )
    figures = [
        plots.counting(counted.per_user, counted.deliveries),
        plots.group_timeline(groups.processed),
        plots.held_back_timeline(held.spans, held.visibility_timeout),
    ]
    for fig in figures:
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
            assert ax.get_legend() is not None
        matplotlib.pyplot.close(fig)
    assert "(s)" in figures[1].axes[0].get_xlabel()
    held_labels = [t.get_text() for t in figures[2].axes[0].get_legend().get_texts()]
    assert "crashed worker (held, never deleted)" in held_labels
    assert "crashed worker" not in held_labels, "no solid patch that matches no bar"
