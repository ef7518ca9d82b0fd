"""The keep-alive simulation of notebook 06: traces in the Azure layout, reproducible, shaped as
documented; policies that give known answers on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workshop.simulation import keepalive, traces

# --- traces ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    return traces.generate(1000, seed=6)


def test_trace_has_the_azure_layout(day):
    assert day.shape == (1000, 4 + 1440)
    assert list(day.columns[:4]) == ["HashOwner", "HashApp", "HashFunction", "Trigger"]
    assert list(day.columns[4:]) == [str(m) for m in range(1, 1441)]
    assert day["HashFunction"].is_unique
    assert day["HashFunction"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert set(day["Trigger"]) <= set(traces.TRIGGER_SHARES)
    minutes = day[traces.minute_columns(day)]
    assert (minutes.dtypes == np.int64).all() and (minutes >= 0).all().all()
    # every application belongs to one owner
    assert day.groupby("HashApp")["HashOwner"].nunique().max() == 1


def test_trace_is_reproducible_with_a_seed():
    pd.testing.assert_frame_equal(traces.generate(50, seed=3), traces.generate(50, seed=3))
    assert not traces.generate(50, seed=3).equals(traces.generate(50, seed=4))


def test_a_shorter_day_and_bad_sizes():
    short = traces.generate(20, seed=1, minutes=60)
    assert short.shape == (20, 64) and traces.minute_columns(short)[-1] == "60"
    with pytest.raises(ValueError):
        traces.generate(0)


def test_trace_spans_orders_of_magnitude_and_most_functions_are_rare(day):
    daily = traces.daily_invocations(day)
    invoked = daily[daily > 0]
    assert math.log10(invoked.max() / invoked.min()) >= 6  # many decades in one day
    assert daily.median() < 100  # most functions are invoked rarely
    assert (daily >= 100_000).sum() >= 5  # and a few very often


def test_timer_functions_run_on_a_schedule(day):
    timers = day[day["Trigger"] == "timer"]
    assert len(timers) > 0
    for _, row in timers.head(20).iterrows():
        active = np.flatnonzero(row[traces.minute_columns(day)].to_numpy(dtype=int))
        assert set(row[traces.minute_columns(day)].to_numpy(dtype=int)) <= {0, 1}
        if len(active) > 2:
            assert len(set(np.diff(active))) == 1  # one period


def test_per_application_sums_the_functions(day):
    apps, counts = traces.per_application(day)
    assert counts.shape == (day["HashApp"].nunique(), 1440)
    assert counts.sum() == day[traces.minute_columns(day)].to_numpy().sum()
    assert apps["functions"].sum() == len(day)
    first = apps["HashApp"].iloc[0]
    expected = day.loc[day["HashApp"] == first, traces.minute_columns(day)].to_numpy().sum(axis=0)
    assert (counts[0] == expected).all()


def test_app_memory_follows_the_published_percentiles():
    big = traces.generate(4000, seed=2, minutes=10)
    memory = traces.app_memory(big, seed=2)["AverageAllocatedMb"]
    assert len(memory) == big["HashApp"].nunique()
    assert memory.median() == pytest.approx(170, rel=0.1)
    assert memory.quantile(0.9) == pytest.approx(400, rel=0.1)


# --- fixed keep-alive: known answers --------------------------------------------------------


def every(period: int, minutes: int = 1440) -> np.ndarray:
    counts = np.zeros((1, minutes), dtype=np.int64)
    counts[0, ::period] = 1
    return counts


def test_every_three_minutes_under_five_and_two_minute_windows():
    counts = every(3, 30)  # minutes 0, 3, ..., 27: 10 invocations
    five = keepalive.fixed(counts, 5).iloc[0]
    two = keepalive.fixed(counts, 2).iloc[0]
    assert (five["invocations"], five["cold_starts"]) == (10, 1)
    assert (two["invocations"], two["cold_starts"]) == (10, 10)
    # idle: 2 minutes in each of the 9 gaps, then the 2 minutes left in the day (28, 29)
    assert five["idle_minutes"] == 9 * 2 + 2
    # a 2-minute window is idle 2 minutes after each invocation, the last one included
    assert two["idle_minutes"] == 10 * 2


def test_exactly_the_window_apart_is_warm_and_one_more_minute_is_cold():
    counts = np.zeros((2, 20), dtype=np.int64)
    counts[0, [0, 5]] = 1
    counts[1, [0, 6]] = 1
    result = keepalive.fixed(counts, 5)
    assert result["cold_starts"].tolist() == [1, 2]


def test_several_invocations_in_a_minute_are_one_environment():
    counts = np.zeros((1, 10), dtype=np.int64)
    counts[0, 4] = 7
    result = keepalive.fixed(counts, 0).iloc[0]
    assert (result["invocations"], result["cold_starts"], result["idle_minutes"]) == (7, 1, 0)


def test_an_application_never_invoked_costs_nothing():
    result = keepalive.fixed(np.zeros((1, 30), dtype=np.int64), 10).iloc[0]
    assert result.tolist() == [0, 0, 0]


def test_the_vectorised_policy_agrees_with_the_plain_loop():
    rng = np.random.default_rng(11)
    counts = (rng.random((40, 300)) < rng.uniform(0.002, 0.3, size=(40, 1))).astype(np.int64)
    for window in (0, 1, 3, 10, 60):
        result = keepalive.fixed(counts, window)
        for app in range(len(counts)):
            minutes = np.flatnonzero(counts[app]).tolist()
            assert result["cold_starts"][app] == keepalive.cold_starts(minutes, window)


def test_cold_starts_reference():
    assert keepalive.cold_starts([0, 3, 6, 9], 5) == 1
    assert keepalive.cold_starts([0, 3, 6, 9], 2) == 4
    assert keepalive.cold_starts([], 5) == 0
    assert keepalive.cold_starts([2, 2, 2], 0) == 1


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError):
        keepalive.fixed(every(3, 30), -1)


# --- hybrid histogram policy -----------------------------------------------------------------


def test_hybrid_prewarms_a_periodic_function():
    counts = every(30)  # 48 invocations, 30 minutes apart
    hybrid = keepalive.hybrid(counts, fallback=10).iloc[0]
    short = keepalive.fixed(counts, 10).iloc[0]
    long = keepalive.fixed(counts, 60).iloc[0]
    assert short["cold_starts"] == 48  # 10 minutes is too short for a 30-minute rhythm
    assert long["cold_starts"] == 1
    # the hybrid policy learns the rhythm after a few idle times and is warm from then on
    assert hybrid["cold_starts"] <= 1 + 5
    # and it does so idling far less than the long fixed window that is warm too
    assert hybrid["idle_minutes"] < long["idle_minutes"] / 4


def test_hybrid_windows_follow_the_percentiles():
    steps = keepalive.steps_of(every(30))
    windows = keepalive.hybrid_windows(steps)
    assert not windows.representative[:5].any()  # fewer than 5 idle times: not yet
    assert windows.representative[5:].all()
    # pre-warm at 30 - 10% = 27 minutes, keep until 30 + 10% = 33 minutes
    assert set(windows.pre[5:]) == {27} and set(windows.keep[5:]) == {33}


def test_hybrid_falls_back_while_the_histogram_is_not_representative():
    rng = np.random.default_rng(5)
    counts = np.zeros((1, 1440), dtype=np.int64)
    counts[0, np.sort(rng.choice(1440, size=200, replace=False))] = 1  # spread out, no rhythm
    steps = keepalive.steps_of(counts)
    windows = keepalive.hybrid_windows(steps, min_idle_times=1000)  # never enough
    assert not windows.representative.any()
    fallback = keepalive.hybrid(counts, fallback=10, min_idle_times=1000)
    pd.testing.assert_frame_equal(fallback, keepalive.fixed(counts, 10))


def test_idle_times_beyond_the_range_stay_out_of_the_histogram():
    counts = every(300)  # 5 hours apart: longer than the 4-hour histogram
    windows = keepalive.hybrid_windows(keepalive.steps_of(counts))
    assert not windows.representative.any()


def test_compare_on_a_day(day):
    memory = traces.app_memory(day, seed=6)
    table = keepalive.compare(day, memory, windows=(1, 10, 60), fallbacks=(10,))
    assert table["policy"].tolist() == [
        "fixed 1 min",
        "fixed 10 min",
        "fixed 60 min",
        "hybrid (fallback 10 min)",
    ]
    assert (table["invocations"] == table["invocations"].iloc[0]).all()
    fixed = table[table["kind"] == "fixed"]
    assert fixed["cold_starts"].is_monotonic_decreasing
    assert fixed["idle_gb_minutes"].is_monotonic_increasing
    hybrid = table.iloc[-1]
    ten = table.iloc[1]
    # the point of the notebook: fewer cold starts than the same fallback window alone
    assert hybrid["cold_starts"] < ten["cold_starts"]
    assert hybrid["app_cold_start_pct_p75"] < ten["app_cold_start_pct_p75"]


def test_simulation_plots_draw(day):
    import matplotlib

    matplotlib.use("Agg")
    from workshop.plots import cold_starts as plots

    overview = plots.trace_overview(day)
    assert overview.axes[0].get_title().startswith("1,000 functions")
    table = keepalive.compare(day, windows=(5, 60), fallbacks=(10,))
    tradeoff = plots.policy_tradeoff(table)
    assert len(tradeoff.axes) == 2 and tradeoff.axes[1].get_yscale() == "log"
