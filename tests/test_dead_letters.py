"""The dead-letter experiments of notebook 04 measure what they claim: small, fast runs against
the local cloud, and the pure helpers on made-up data."""

from __future__ import annotations

import json
import math
import time
from collections import Counter

import matplotlib
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import no_workers_left

from workshop.experiments import dead_letters
from workshop.plots import dead_letters as plots

matplotlib.use("Agg")


# --- the worker and its bug -----------------------------------------------------------------


def test_version_1_fails_only_on_the_unknown_filter_and_the_fix_handles_it():
    dead_letters.resize({"filter": "warm"})
    with pytest.raises(dead_letters.ResizeError):
        dead_letters.resize({"filter": "sharpen"})
    dead_letters.resize_fixed({"filter": "sharpen"})
    with pytest.raises(dead_letters.ResizeError):
        dead_letters.resize_fixed({"filter": "sepia"})
    assert json.loads(dead_letters.first_poison_upload())["filter"] == "sharpen"


# --- queues with a redrive policy -----------------------------------------------------------


def test_a_pair_has_a_policy_naming_its_dlq(cloud, sqs):
    pair = dead_letters.create_pair(
        cloud, "pair", max_receive_count=5, visibility_timeout=2, dlq_retention=1_209_600
    )
    assert dead_letters.read_redrive_policy(sqs, pair.source_url) == {
        "deadLetterTargetArn": pair.dlq_arn,
        "maxReceiveCount": 5,
    }
    assert dead_letters.read_redrive_policy(sqs, pair.dlq_url) is None
    assert pair.dlq_arn.endswith(pair.dlq_url.rsplit("/", 1)[-1])
    attributes = sqs.get_queue_attributes(QueueUrl=pair.source_url, AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "2"
    retention = sqs.get_queue_attributes(
        QueueUrl=pair.dlq_url, AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]["MessageRetentionPeriod"]
    assert retention == "1209600" and attributes["Attributes"]["MessageRetentionPeriod"] == "345600"
    again = dead_letters.create_pair(cloud, "pair")
    assert again.source_url != pair.source_url, "every pair gets fresh names"


def test_a_fifo_queue_needs_a_fifo_dlq(cloud, sqs):
    pair = dead_letters.create_pair(cloud, "fifo", fifo=True)
    assert pair.source_url.endswith(".fifo") and pair.dlq_url.endswith(".fifo")
    standard_dlq = cloud.create_queue("plain-dlq")
    with pytest.raises(ClientError):
        cloud.create_queue(
            "fifo-with-plain-dlq",
            fifo=True,
            RedrivePolicy=dead_letters.redrive_policy(dead_letters.queue_arn(sqs, standard_dlq), 3),
        )


def test_a_standard_queue_needs_a_standard_dlq(cloud, sqs):
    fifo_dlq = cloud.create_queue("fifo-dlq", fifo=True)
    policy = dead_letters.redrive_policy(dead_letters.queue_arn(sqs, fifo_dlq), 3)
    with pytest.raises(ClientError, match="must be the same as the source queue type"):
        cloud.create_queue("plain-with-fifo-dlq", RedrivePolicy=policy)
    plain = cloud.create_queue("plain")
    with pytest.raises(ClientError, match="must be the same as the source queue type"):
        sqs.set_queue_attributes(QueueUrl=plain, Attributes={"RedrivePolicy": policy})


def test_dead_letter_sources_lists_the_queues_using_a_dlq(cloud, sqs):
    pair = dead_letters.create_pair(cloud, "sources")
    assert dead_letters.dead_letter_sources(sqs, pair.dlq_url, expect=pair.source_url) == [
        pair.source_url
    ]
    started = time.perf_counter()
    assert dead_letters.dead_letter_sources(sqs, pair.source_url, expect="x", seconds=0.6) == []
    assert time.perf_counter() - started < 2, "the wait is bounded"


def test_peek_reads_messages_and_leaves_them_visible(cloud, sqs):
    url = cloud.create_queue("peek")
    for i in range(13):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"upload_id": f"u{i}"}))
    seen = dead_letters.peek(sqs, url, expected=13)
    assert len(seen) == 13 and seen["message_id"].is_unique
    assert (seen["receive_count"] == 1).all()
    assert (seen["sent_timestamp"] > 1_600_000_000_000).all()
    assert dead_letters.visible(sqs, url) == 13, "peeked messages are visible again"


# --- one poison message ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def poison(server):
    from conftest import make_local

    cloud = make_local(server)
    try:
        yield dead_letters.follow_poison(
            cloud, max_receive_count=2, retry_pause=1.4, progress=False
        )
    finally:
        cloud.cleanup(quiet=True)


def test_the_poison_message_is_received_max_receive_count_times(poison):
    got = poison.receives[poison.receives["got"]]
    assert list(got["receive_count"]) == [1, 2]
    assert poison.deliveries == 2
    assert poison.seconds < 8
    assert no_workers_left()


def test_it_moves_at_the_next_receive_not_when_its_timeout_ends(poison):
    last = poison.receives[poison.receives["got"]]["end"].max()
    assert poison.expired_at == pytest.approx(last + 1, abs=0.2)  # the 1 s visibility timeout
    mover = poison.moving_receive
    assert mover is not None and not mover["got"]
    assert poison.moved_at >= mover["start"]
    # Between the timeout's end and the next receive the sampler saw it waiting in the source.
    between = poison.samples[
        (poison.samples["t"] > poison.expired_at) & (poison.samples["t_done"] < mover["start"])
    ]
    assert len(between) >= 3
    assert (between["source_visible"] == 1).all() and (between["dlq_visible"] == 0).all()
    assert poison.samples["dlq_visible"].iloc[-1] == 1
    events = list(poison.timeline["event"])
    assert events[-1] == "found in the DLQ" and events[0] == "receive 1 returned it"


def test_poison_plot_is_titled_and_labelled(poison):
    fig = plots.poison_timeline(poison)
    top, bottom = fig.axes[:2]
    assert top.get_title() and top.get_ylabel() == "ApproximateReceiveCount"
    assert "(s)" in bottom.get_xlabel()
    assert top.get_legend() is not None and bottom.get_legend() is not None
    cross = next(line for line in top.get_lines() if line.get_marker() == "X")
    assert list(cross.get_ydata()) == [poison.pair.max_receive_count], "on the limit, not above"
    matplotlib.pyplot.close(fig)


# --- mixed traffic --------------------------------------------------------------------------


def test_mixed_traffic_accounts_for_every_upload(cloud):
    result = dead_letters.mixed_traffic(
        cloud, messages=14, max_receive_count=2, consumers=2, progress=False
    )
    summary = result.summary
    # The first 14 uploads hold 3 with the filter version 1 does not know.
    assert summary.loc["good"].to_dict() == {"sent": 11, "processed": 11, "in DLQ": 0, "lost": 0}
    assert summary.loc["poison"].to_dict() == {"sent": 3, "processed": 0, "in DLQ": 3, "lost": 0}
    assert result.lost == 0
    poison = result.outcomes[result.outcomes["poison"]]
    assert (poison["failures"] == 2).all(), "each poison upload failed maxReceiveCount times"
    kept = dead_letters.kept_timestamps(result)
    assert len(kept) == 3 and kept["kept"].all()
    first = kept.iloc[0]
    assert first["sent_at"].timestamp() * 1000 == pytest.approx(first["sent_timestamp_in_dlq"])
    assert result.samples["processed"].is_monotonic_increasing
    assert dead_letters.visible(cloud.client("sqs"), result.pair.dlq_url) == 3, "left in the DLQ"
    alarm = dead_letters.first_alarm(result.samples)
    assert 0 < alarm <= result.seconds
    fig = plots.mixed_outcomes(result)
    assert all(ax.get_title() for ax in fig.axes)
    matplotlib.pyplot.close(fig)
    assert no_workers_left()


def test_account_says_where_each_upload_ended():
    uploads = [
        {"upload_id": u, "filter": f} for u, f in [("a", "none"), ("b", "sharpen"), ("c", "warm")]
    ]
    processed = pd.DataFrame({"upload_id": ["a", "a"], "t": [0.1, 0.2], "consumer": [0, 1]})
    dlq = pd.DataFrame({"upload_id": ["b"]})
    frame = dead_letters.account(uploads, processed, dlq, Counter({"b": 3})).set_index("upload_id")
    assert list(frame["outcome"]) == ["processed", "in DLQ", "lost"]
    assert frame.loc["a", "times_processed"] == 2 and frame.loc["b", "failures"] == 3
    assert list(frame["poison"]) == [False, True, False]


def test_time_left_in_the_dlq_counts_from_the_first_send():
    day = 86_400
    assert dead_letters.time_left_in_dlq(1 * day, 4 * day) == 3 * day
    assert dead_letters.time_left_in_dlq(5 * day, 4 * day) == 0


def test_retention_table_is_retention_minus_days_in_the_source():
    table = dead_letters.retention_table((1, 3.9), (4, 14))
    assert table.index.name == "days in the source before the move"
    assert table.columns.name == "DLQ retention (days)"
    assert table.loc[1, 4] == 3 and table.loc[3.9, 14] == pytest.approx(10.1)
    assert dead_letters.retention_table((5,), (4,)).loc[5, 4] == 0


def test_first_alarm_is_the_first_sample_above_the_threshold():
    samples = pd.DataFrame({"t": [0.0, 0.5, 1.0, 1.5], "dlq_visible": [0, 0, 2, 3]})
    assert dead_letters.first_alarm(samples) == 1.0
    assert dead_letters.first_alarm(samples, threshold=2) == 1.5
    assert math.isnan(dead_letters.first_alarm(samples, threshold=5))


# --- moving messages back -------------------------------------------------------------------


def test_fitted_rate_is_the_slope_while_moving():
    # First message at once, then one every 0.25 s: 4 a second, although 5 moved in 1 s.
    t = [0.0, 0.05, 0.3, 0.55, 0.8, 1.05, 1.3]
    moved = [1, 1, 2, 3, 4, 5, 5]
    progress = pd.DataFrame({"t": t, "moved": moved, "status": "RUNNING", "to_move": 5})
    assert dead_letters.fitted_rate(progress) == pytest.approx(4.0, rel=0.05)
    assert math.isnan(dead_letters.fitted_rate(progress.head(1)))


@pytest.fixture
def dead_lettered(cloud):
    """A pair whose DLQ holds the 5 poison uploads among the first 40."""
    return dead_letters.mixed_traffic(
        cloud, messages=40, max_receive_count=1, consumers=2, progress=False
    )


def test_only_a_dlq_can_be_a_move_source_and_one_task_at_a_time(cloud, sqs, dead_lettered):
    pair = dead_lettered.pair
    with pytest.raises(ClientError, match="Dead Letter Queue"):
        sqs.start_message_move_task(SourceArn=pair.source_arn)
    slow = sqs.start_message_move_task(SourceArn=pair.dlq_arn, MaxNumberOfMessagesPerSecond=1)
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=pair.dlq_arn)
    watched = dead_letters.watch_task(sqs, pair.dlq_arn, seconds=0.6)
    assert set(watched["status"]) == {"RUNNING"} and watched["to_move"].iloc[0] == 5
    sqs.cancel_message_move_task(TaskHandle=slow["TaskHandle"])
    task = dead_letters.wait_for_task(sqs, pair.dlq_arn, seconds=5)
    assert task["Status"] == "CANCELLED" and 1 <= task["ApproximateNumberOfMessagesMoved"] < 5
    table = dead_letters.move_tasks(sqs, pair.dlq_arn)
    assert list(table["status"]) == ["CANCELLED"] and table["max_per_second"].iloc[0] == 1
    assert "task_handle" not in table and "failure_reason" not in table, "empty columns dropped"
    # What the cancelled task moved arrived in the source as new messages.
    moved = task["ApproximateNumberOfMessagesMoved"]
    back = dead_letters.compare_redriven(sqs, dead_lettered, expected=moved)
    assert len(back) == moved
    assert back["new_message_id"].all() and back["new_sent_timestamp"].all()
    assert (back["receive_count_back"] == 1).all(), "its receive count started again"


def test_redrive_moves_everything_back_at_the_rate_asked(cloud, sqs, dead_lettered):
    assert dead_lettered.summary.loc["poison", "in DLQ"] == 5
    started = time.perf_counter()
    result = dead_letters.redrive(cloud, dead_lettered.pair, rate=5, progress=False)
    assert time.perf_counter() - started < 5
    assert result.status == "COMPLETED" and result.moved == 5 and result.waiting_at_start == 0
    assert result.measured_rate == pytest.approx(5, rel=0.3)
    assert set(result.processed["upload_id"]) == set(dead_lettered.dlq["upload_id"])
    assert dead_letters.visible(sqs, dead_lettered.pair.dlq_url) == 0
    assert result.summary["processed_after_fix"].iloc[0] == 5
    assert result.summary["max_per_second"].iloc[0] == 5
    fig = plots.move_progress(result)
    ax = fig.axes[0]
    assert ax.get_title() and "(s)" in ax.get_xlabel() and ax.get_legend() is not None
    matplotlib.pyplot.close(fig)
    assert no_workers_left()
