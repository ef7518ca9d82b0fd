"""The experiments of notebook 02 measure redelivery as it happened, lose no message even when
worker processes are killed at random, and leave no thread or process behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
from conftest import live_children, make_local, no_workers_left

from workshop.experiments import redelivery
from workshop.plots import redelivery as plots

matplotlib.use("Agg")

TOLERANCE = 0.05  # s: clock reads on either side of an HTTP round trip


@pytest.fixture(scope="module")
def timeline(server):
    """One crash-and-redeliver run shared by the tests that only read it."""
    cloud = make_local(server)
    try:
        yield redelivery.crash_and_redeliver(
            cloud, messages=5, good_workers=1, work_seconds=0.15, progress=False
        )
    finally:
        cloud.cleanup(quiet=True)


@pytest.fixture(scope="module")
def heartbeat(server):
    cloud = make_local(server)
    try:
        yield redelivery.compare_heartbeat(cloud, progress=False)
    finally:
        cloud.cleanup(quiet=True)


# --- crashing and succeeding workers --------------------------------------------------------


def test_every_message_ends_processed_once_by_a_good_worker(timeline):
    summary = timeline.summary.iloc[0]
    assert summary["sent"] == 5 and summary["processed"] == 5
    assert summary["missing"] == 0 and summary["processed_again"] == 0
    assert summary["left_in_queue"] == 0
    assert summary["crashes"] >= 1, "the crashing worker got at least one message"
    processed = timeline.receives[timeline.receives["outcome"] == "processed"]
    assert sorted(processed["seq"]) == list(range(5))
    assert set(processed["kind"]) == {"succeeds"}
    assert no_workers_left()


def test_receive_counts_climb_by_one_and_a_crash_is_always_followed_by_a_redelivery(timeline):
    for seq, mine in timeline.receives.groupby("seq"):
        mine = mine.sort_values("received_at")
        assert list(mine["receive_count"]) == list(range(1, len(mine) + 1)), seq
        assert list(mine["outcome"])[-1] == "processed", seq
        assert set(mine["outcome"].iloc[:-1]) <= {"crashed"}, seq
    crashes = (timeline.receives["outcome"] == "crashed").sum()
    assert len(timeline.redeliveries) == crashes
    assert timeline.summary.iloc[0]["max_receive_count"] == timeline.receives["receive_count"].max()


def test_a_crashed_message_stays_hidden_for_the_whole_timeout(timeline):
    gaps = timeline.redeliveries
    assert (gaps["after_s"] >= timeline.visibility_timeout - TOLERANCE).all(), gaps
    assert ((gaps["after_s"] - gaps["late_s"]) == timeline.visibility_timeout).all()
    assert (gaps["redelivered_at"] > gaps["crashed_at"]).all()


def test_a_timeline_run_stops_by_its_deadline_and_reports_what_is_missing(cloud):
    started = time.perf_counter()
    result = redelivery.crash_and_redeliver(
        cloud, messages=3, good_workers=0, deadline_seconds=1.5, progress=False
    )
    assert time.perf_counter() - started < 5
    summary = result.summary.iloc[0]
    assert summary["processed"] == 0 and summary["missing"] == 3
    assert summary["crashes"] >= 1
    assert no_workers_left()


def test_redeliveries_pair_each_crash_with_the_next_receive():
    attempts = pd.DataFrame(
        {
            "seq": [0, 0, 0, 1],
            "worker": ["a", "b", "c", "a"],
            "receive_count": [1, 2, 3, 1],
            "received_at": [0.0, 1.2, 2.5, 0.1],
            "ended_at": [0.1, 1.3, 2.6, 0.2],
            "outcome": ["crashed", "crashed", "processed", "crashed"],
        }
    )
    found = redelivery.redeliveries_after(attempts, 1, gone=("crashed",))
    assert list(found["seq"]) == [0, 0, 1]
    assert list(found["next_worker"][:2]) == ["b", "c"]
    assert found["after_s"][:2].round(6).tolist() == [1.2, 1.3]
    assert found["late_s"][:2].round(6).tolist() == [0.2, 0.3]
    assert pd.isna(found["next_worker"][2]) and pd.isna(found["after_s"][2])  # never came back


# --- worker processes killed with SIGKILL -----------------------------------------------------


def test_a_worker_killed_mid_job_loses_nothing(cloud):
    started = time.perf_counter()
    result = redelivery.kill_workers(
        cloud,
        jobs=2,
        workers=2,
        kills=1,
        kill_after=0.2,
        work_seconds=0.5,
        visibility_timeout=1,
        deadline_seconds=20,
        progress=False,
    )
    assert time.perf_counter() - started < 20
    summary = result.summary.iloc[0]
    assert summary["kills"] == 1 and summary["lost"] == 0 and summary["left_in_queue"] == 0
    assert summary["processed"] == 2
    killed = result.attempts[result.attempts["outcome"] == "killed"]
    assert len(killed) == 1
    (back,) = result.redeliveries.itertuples()
    assert back.seq == killed.iloc[0]["seq"]
    assert back.next_worker != back.crashed_worker and back.receive_count == 2
    assert back.after_s >= 1 - TOLERANCE
    killed_events = result.events[result.events["event"] == "killed"]
    victim = killed_events.iloc[0]["worker"]
    after_kill = result.events[
        (result.events["worker"] == victim) & (result.events["t"] > killed_events.iloc[0]["t"])
    ]
    assert "finished" not in set(after_kill["event"]), "a killed worker says nothing more"
    assert not live_children()
    assert no_workers_left()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_kills_during_jobs_never_lose_a_job(cloud, seed):
    started = time.perf_counter()
    result = redelivery.kill_workers(
        cloud,
        jobs=5,
        workers=2,
        kills=3,
        restart=True,
        seed=seed,
        work_seconds=0.4,
        visibility_timeout=1,
        deadline_seconds=25,
        progress=False,
    )
    assert time.perf_counter() - started < 30
    summary = result.summary.iloc[0]
    assert summary["kills"] == 3
    assert summary["processed"] == 5 and summary["lost"] == 0
    assert summary["left_in_queue"] == 0, "every job deleted, none left in flight"
    assert summary["workers_started"] == 2 + 3, "each killed worker was replaced"
    finished = result.events[result.events["event"] == "finished"]
    assert set(finished["seq"]) == set(range(5))
    assert (result.redeliveries["after_s"] >= 1 - TOLERANCE).all()
    assert not live_children()


def test_a_worker_process_that_fails_is_reported_and_stopped(cloud, monkeypatch, tmp_path):
    broken = tmp_path / "broken_worker.py"
    broken.write_text("import sys\nprint('cannot start: no luck')\nsys.exit(3)\n")
    monkeypatch.setattr(redelivery, "WORKER_SCRIPT", broken)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"exited with code 3:\ncannot start: no luck"):
        redelivery.kill_workers(cloud, jobs=1, workers=2, deadline_seconds=15, progress=False)
    assert time.perf_counter() - started < 10
    assert not live_children()


def test_a_worker_process_never_outlives_its_parent(cloud):
    # Told that its parent is pid 1, the worker sees an orphan's parent id and stops at once.
    env, extra = redelivery.child_environment(cloud)
    out = subprocess.run(
        [
            sys.executable,
            "-P",
            str(redelivery.WORKER_SCRIPT),
            "--queue-url",
            f"{cloud.endpoint_url}/123456789012/nothing",
            "--region",
            "us-east-1",
            "--parent",
            "1",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert '"stopping"' in out.stdout and "parent gone" in out.stdout


def test_local_credentials_travel_in_the_environment_not_the_command_line(cloud):
    env, extra = redelivery.child_environment(cloud)
    secret = cloud.session.get_credentials().get_frozen_credentials().secret_key
    assert env["AWS_SECRET_ACCESS_KEY"] == secret
    assert extra == ["--endpoint-url", cloud.endpoint_url]
    assert "AWS_PROFILE" not in env
    supervisor = redelivery._Supervisor(
        cloud, "http://q", work_seconds=1, wait_seconds=1, lifetime=1, t0=0.0
    )
    assert secret not in " ".join(supervisor.command)


def test_on_aws_the_worker_gets_nothing_extra(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "mine")
    aws = SimpleNamespace(kind="aws")
    env, extra = redelivery.child_environment(aws)
    assert extra == [] and env == dict(os.environ), "the standard credential chain applies"


def test_attempts_pair_receives_with_what_ended_them():
    events = pd.DataFrame(
        [
            (0.0, "p1", 1, "received", 0, 1),
            (0.3, "p1", 1, "killed", 0, None),
            (0.1, "p2", 2, "received", 1, 1),
            (0.6, "p2", 2, "finished", 1, None),
            (1.1, "p2", 2, "received", 0, 2),
        ],
        columns=redelivery.EVENT_COLUMNS,
    ).sort_values("t", ignore_index=True)
    attempts = redelivery.attempts_from_events(events)
    assert list(attempts["outcome"]) == ["killed", "finished", "unfinished"]
    assert list(attempts["seq"]) == [0, 1, 0]
    assert list(attempts["receive_count"]) == [1, 1, 2]


# --- long jobs, without and with a heartbeat --------------------------------------------------


def test_a_job_longer_than_the_timeout_runs_twice_without_a_heartbeat(heartbeat):
    summary = heartbeat.summary.set_index("run")
    without, with_ = summary.loc["no heartbeat"], summary.loc["heartbeat"]
    assert without["missing"] == 0 and with_["missing"] == 0
    assert without["duplicates"] >= 1, "another worker took the job when its timeout expired"
    assert without["expired_mid_job"] >= 1
    assert with_["duplicates"] == 0 and with_["expired_mid_job"] == 0
    assert with_["heartbeats"] >= heartbeat.work_seconds / heartbeat.visibility_timeout
    assert without["heartbeats"] == 0
    second = heartbeat.attempts[
        (heartbeat.attempts["run"] == "no heartbeat") & (heartbeat.attempts["receive_count"] == 2)
    ]
    first = heartbeat.attempts[
        (heartbeat.attempts["run"] == "no heartbeat") & (heartbeat.attempts["receive_count"] == 1)
    ]
    # The second receive came no earlier than the timeout, and while the first was working.
    gap = second["received_at"].min() - first["received_at"].min()
    assert heartbeat.visibility_timeout - TOLERANCE <= gap < heartbeat.work_seconds
    assert no_workers_left()


def test_every_receive_call_is_recorded_with_what_it_got(heartbeat):
    polls = heartbeat.polls
    assert set(polls["run"]) == {"no heartbeat", "heartbeat"}
    assert (polls["ended_at"] >= polls["started_at"]).all()
    got = polls.groupby("run")["messages"].sum()
    processings = heartbeat.summary.set_index("run")["processings"]
    assert (got == processings.reindex(got.index)).all(), "one receive per processing"
    # With the heartbeat, the other worker asked while the job ran and never got it.
    beat = heartbeat.attempts[heartbeat.attempts["run"] == "heartbeat"].iloc[0]
    others = polls[(polls["run"] == "heartbeat") & (polls["worker"] != beat["worker"])]
    during = others[others["started_at"] < beat["finished_at"]]
    assert len(during) >= 1 and (during["messages"] == 0).all()


def test_hidden_until_follows_the_heartbeats():
    attempt = pd.Series({"run": "r", "worker": "w", "received_at": 0.0, "finished_at": 3.0})
    beats = pd.DataFrame(
        {"run": "r", "worker": "w", "seq": 0, "t": [0.5, 1.2, 2.0], "ok": [True, True, True]}
    )
    assert redelivery.hidden_until(attempt, beats, 1) == 3.0  # each came in time
    late = beats.assign(t=[0.5, 1.7, 2.0])  # the second came after 1.5
    assert redelivery.hidden_until(attempt, late, 1) == 1.5
    assert redelivery.hidden_until(attempt, beats.iloc[0:0], 1) == 1.0
    assert redelivery.hidden_until(attempt, beats.assign(ok=False), 1) == 1.0


def test_a_heartbeat_must_come_more_often_than_the_timeout(cloud):
    with pytest.raises(ValueError, match="more often"):
        redelivery.compare_heartbeat(cloud, visibility_timeout=1, heartbeat_every=1.5)


# --- plots ----------------------------------------------------------------------------------


def test_plots_are_titled_and_labelled(timeline, heartbeat):
    figures = [
        plots.redelivery_timeline(timeline.receives, timeline.visibility_timeout),
        plots.heartbeat_comparison(
            heartbeat.attempts, heartbeat.heartbeats, heartbeat.visibility_timeout
        ),
    ]
    attempts = pd.DataFrame(
        {
            "worker": ["process 1", "process 2", "process 2"],
            "seq": [0, 1, 0],
            "receive_count": [1, 1, 2],
            "received_at": [0.3, 0.3, 1.35],
            "ended_at": [0.5, 0.9, 1.95],
            "outcome": ["killed", "finished", "finished"],
        }
    )
    killed = redelivery.redeliveries_after(attempts, 1, gone=("killed",))
    figures.append(plots.process_timeline(attempts, killed, 1))
    for fig in figures:
        axes = [ax for ax in fig.axes if ax.get_title()]
        assert axes, "every figure has a titled axes"
        assert any("(s)" in ax.get_xlabel() for ax in fig.axes), "time axis with its unit"
        assert any(ax.get_legend() is not None for ax in fig.axes), "a legend"
        matplotlib.pyplot.close(fig)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def test_the_heartbeat_plot_lists_only_what_it_draws(heartbeat):
    without = heartbeat.attempts[heartbeat.attempts["run"] == "no heartbeat"]
    fig = plots.heartbeat_comparison(
        without, heartbeat.heartbeats, heartbeat.visibility_timeout, heartbeat.polls
    )
    texts = legend_texts(fig)
    assert "heartbeat (ChangeMessageVisibility)" not in texts, "no heartbeat is drawn here"
    assert "timeout expired mid-job" in texts
    assert any("computed" in t for t in texts), "the hidden band says it is computed"
    matplotlib.pyplot.close(fig)
    fig = plots.heartbeat_comparison(
        heartbeat.attempts, heartbeat.heartbeats, heartbeat.visibility_timeout, heartbeat.polls
    )
    texts = legend_texts(fig)
    assert "heartbeat (ChangeMessageVisibility)" in texts and "long poll, empty" in texts
    matplotlib.pyplot.close(fig)
    fig = plots.heartbeat_comparison(
        heartbeat.attempts, heartbeat.heartbeats, heartbeat.visibility_timeout
    )
    assert "long poll, empty" not in legend_texts(fig), "polls are optional"
    matplotlib.pyplot.close(fig)


def test_the_process_plot_explains_its_numbers_and_keeps_a_killed_label_clear():
    attempts = pd.DataFrame(
        {
            "worker": ["process 1", "process 2", "process 2"],
            "seq": [0, 1, 0],
            "receive_count": [1, 1, 2],
            "received_at": [0.3, 0.3, 1.35],
            "ended_at": [0.5, 0.9, 1.95],
            "outcome": ["killed", "finished", "finished"],
        }
    )
    killed = redelivery.redeliveries_after(attempts, 1, gone=("killed",))
    fig = plots.process_timeline(attempts, killed, 1)
    (ax,) = fig.axes
    assert ax.get_legend().get_title().get_text() == "#n: receive count"
    label = next(t for t in ax.texts if t.get_text() == "job 0 (#1)")
    assert label.xy[0] == 0.5, "the killed job's label starts at the cross, not under it"
    assert label.get_position()[0] > 0, "and is offset to the right of it"
    matplotlib.pyplot.close(fig)
