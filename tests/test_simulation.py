"""The keep-alive simulation of notebook 06: traces in the Azure layout, reproducible, shaped as
documented; policies that give known answers on cases worked out by hand, and that agree with a
plain minute-by-minute simulation written independently of the vectorised one."""

from __future__ import annotations

import math
from collections import Counter

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


def test_preview_shortens_the_hashes(day):
    shown = traces.preview(day, rows=3, minutes=4)
    assert shown.shape == (3, 8) and list(shown.columns[4:]) == ["1", "2", "3", "4"]
    assert shown["HashApp"].str.fullmatch(r"[0-9a-f]{8}…").all()
    assert day["HashApp"].str.len().eq(64).all()  # the trace itself is untouched


def test_trace_is_reproducible_with_a_seed():
    pd.testing.assert_frame_equal(traces.generate(50, seed=3), traces.generate(50, seed=3))
    assert not traces.generate(50, seed=3).equals(traces.generate(50, seed=4))


def test_a_shorter_day_and_bad_sizes():
    short = traces.generate(20, seed=1, minutes=60)
    assert short.shape == (20, 64) and traces.minute_columns(short)[-1] == "60"
    with pytest.raises(ValueError):
        traces.generate(0)
    with pytest.raises(ValueError):
        traces.generate(10, model=traces.TraceModel(timer_share=1.0))


def test_a_day_without_timers_is_the_same_day_with_the_timers_made_ordinary(day):
    plain = traces.generate(1000, seed=6, model=traces.TraceModel(timer_share=0.0))
    assert "timer" not in set(plain["Trigger"])
    # the same draws: every function that was not a timer has the same invocations
    kept = (day["Trigger"] != "timer").to_numpy()
    minutes = traces.minute_columns(day)
    assert (plain.loc[kept, minutes].to_numpy() == day.loc[kept, minutes].to_numpy()).all()
    assert plain["HashApp"].equals(day["HashApp"])
    # and the former timers are no longer on a schedule
    former = plain.loc[~kept, minutes].to_numpy()
    regular = [len(set(np.diff(np.flatnonzero(row)))) == 1 for row in former if row.sum() > 2]
    assert not all(regular)


def test_the_default_timer_share_is_the_trigger_share():
    assert traces.TraceModel().timer_share == traces.TRIGGER_SHARES["timer"]
    more = traces.generate(2000, seed=1, minutes=5, model=traces.TraceModel(timer_share=0.5))
    assert (more["Trigger"] == "timer").mean() == pytest.approx(0.5, abs=0.05)


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


def test_an_application_mostly_idle_beyond_the_range_stays_on_the_fallback():
    # 6 calls 30 minutes apart (5 idle times in range), then 8 idle times of 300 minutes
    minutes = [30 * i for i in range(6)] + [150 + 300 * i for i in range(1, 9)]
    counts = np.zeros((1, max(minutes) + 1), dtype=np.int64)
    counts[0, minutes] = 1
    windows = keepalive.hybrid_windows(keepalive.steps_of(counts))
    gaps = np.diff(minutes)
    out_of_range = np.cumsum(np.r_[0, gaps[:-1]] > keepalive.HISTOGRAM_MINUTES)
    seen = np.arange(len(gaps))
    # representative after the 5 in-range idle times, until more than half are out of range
    assert windows.representative.tolist() == [
        n >= 5 and out <= n / 2 for n, out in zip(seen, out_of_range, strict=True)
    ]
    assert windows.representative[5] and not windows.representative[-1]
    assert not windows.tail_representative[0]  # 8 of 13 idle times out of range
    # without the rule the last histograms would still count as representative
    ignored = keepalive.hybrid_windows(keepalive.steps_of(counts), max_out_of_range=1.0)
    assert ignored.representative[5:].all() and ignored.tail_representative[0]


def test_compare_on_a_day(day):
    memory = traces.app_memory(day, seed=6)
    assert keepalive.compare(day, memory, windows=(1,), fallbacks=())["policy"].tolist() == [
        "fixed 1 min"
    ]
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
    assert fixed["idle_gb_hours"].is_monotonic_increasing
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
    tradeoff = plots.policy_tradeoff(table, "one day")
    assert len(tradeoff.axes) == 2 and tradeoff.axes[1].get_yscale() == "log"
    assert tradeoff.get_suptitle() == "one day"
    assert tradeoff.axes[0].get_xlabel().startswith("idle memory-time (GB-hours")


# --- the fixed windows' curve ----------------------------------------------------------------


def policies_table(rows: list[tuple[str, str, int, float, float, int]]) -> pd.DataFrame:
    columns = ["policy", "kind", "window_minutes", "idle_gb_hours", "app_p75", "cold_starts"]
    table = pd.DataFrame(rows, columns=columns)
    return table.rename(columns={"app_p75": "app_cold_start_pct_p75"})


def test_versus_fixed_curve_reads_the_curve_as_plotted():
    table = policies_table(
        [
            ("fixed 1 min", "fixed", 1, 10.0, 100.0, 10_000),
            ("fixed 60 min", "fixed", 60, 1000.0, 40.0, 100),
            ("below", "hybrid", 10, 100.0, 60.0, 900),
            ("above", "hybrid", 60, 100.0, 80.0, 1100),
            ("beyond", "hybrid", 120, 2000.0, 10.0, 10),
        ]
    )
    result = keepalive.versus_fixed_curve(table).set_index("policy")
    # halfway on a log axis: the straight line's midpoint
    assert result.loc["below", "fixed_curve_app_cold_start_pct_p75"] == pytest.approx(70.0)
    assert result.loc["below", "fixed_curve_cold_starts"] == pytest.approx(1000.0)  # log y
    sides = result[["side_app_cold_start_pct_p75", "side_cold_starts"]]
    assert sides.loc["below"].tolist() == ["below", "below"]
    assert sides.loc["above"].tolist() == ["above", "above"]
    # outside the fixed windows' range there is no curve to be below
    assert np.isnan(result.loc["beyond", "fixed_curve_cold_starts"])
    assert sides.loc["beyond"].tolist() == ["outside", "outside"]


def test_the_notebooks_days_with_and_without_timers():
    """What notebook 06 states about its two days, so that a change to the model shows here."""
    sides = {}
    for share in (traces.TRIGGER_SHARES["timer"], 0.0):
        trace = traces.generate(1000, seed=6, model=traces.TraceModel(timer_share=share))
        table = keepalive.compare(trace, traces.app_memory(trace, seed=6), fallbacks=(10, 60))
        against = keepalive.versus_fixed_curve(table).set_index("policy")
        sides[share] = against[["side_app_cold_start_pct_p75", "side_cold_starts"]]
    assert (sides[0.2] == "below").all().all()
    assert sides[0.0].loc["hybrid (fallback 10 min)"].tolist() == ["above", "above"]
    assert sides[0.0].loc["hybrid (fallback 60 min)"].tolist() == ["below", "above"]


# --- an independent check: a plain minute-by-minute simulation ---------------------------------


def fixed_decision(window: int):
    """After any history of idle times: loaded from 0 to ``window`` minutes after a call."""
    return lambda idle_times: (0, window)


def hybrid_decision(fallback: int, *, range_minutes: int = 240, min_idle_times: int = 5):
    """The hybrid policy as its description reads, written without numpy's help."""

    def decide(idle_times: list[int]) -> tuple[int, int]:
        in_range = sorted(g for g in idle_times if 1 <= g <= range_minutes)
        n = len(in_range)
        if n < min_idle_times or len(idle_times) - n > len(idle_times) / 2:
            return 0, fallback
        bins = Counter(in_range)
        counts = [bins[minute] for minute in range(1, range_minutes + 1)]
        mean = n / range_minutes
        cv = math.sqrt(sum((c - mean) ** 2 for c in counts) / range_minutes) / mean
        if cv < 2:
            return 0, fallback
        head = in_range[-(-n * 5 // 100) - 1]  # nearest rank: the ceil(n p / 100)-th value
        tail = in_range[-(-n * 99 // 100) - 1]
        return math.floor(head * 0.9), math.ceil(tail * 1.1)

    return decide


def minute_by_minute(counts: np.ndarray, decide) -> pd.DataFrame:
    """Walk every minute of every application: is the environment loaded, is a call due?"""
    rows = []
    for calls in counts:
        loaded_from, loaded_until = None, None
        cold = idle = 0
        previous, idle_times = None, []
        for minute, n in enumerate(calls):
            loaded = loaded_from is not None and loaded_from <= minute <= loaded_until
            if n == 0:
                idle += loaded
                continue
            cold += not loaded
            if previous is not None:
                idle_times.append(minute - previous)
            previous = minute
            pre, keep = decide(idle_times)
            loaded_from, loaded_until = minute + max(pre, 1), minute + keep
        rows.append((int(calls.sum()), cold, idle))
    return pd.DataFrame(rows, columns=["invocations", "cold_starts", "idle_minutes"])


def random_counts(seed: int, apps: int = 30, minutes: int = 1800) -> np.ndarray:
    """Applications of very different rates, some of them on a timer, and one whose idle times
    end up mostly longer than the histogram's range."""
    rng = np.random.default_rng(seed)
    rate = rng.choice([0.002, 0.01, 0.05, 0.3], size=(apps, 1))
    counts = (rng.random((apps, minutes)) < rate) * rng.integers(1, 4, size=(apps, minutes))
    for app in range(apps // 4):
        counts[app] = 0
        counts[app, rng.integers(0, 30) :: rng.choice([7, 30, 61, 300])] = 1
    counts[apps // 4] = 0
    counts[apps // 4, [0, 1, 2, 3, 4, 5, *range(246, minutes, 241)]] = 1
    return counts.astype(np.int64)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fixed_windows_agree_with_the_minute_by_minute_walk(seed):
    counts = random_counts(seed)
    for window in (0, 1, 5, 10, 60):
        pd.testing.assert_frame_equal(
            keepalive.fixed(counts, window), minute_by_minute(counts, fixed_decision(window))
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_hybrid_policy_agrees_with_the_minute_by_minute_walk(seed):
    counts = random_counts(seed)
    for fallback in (10, 60):
        pd.testing.assert_frame_equal(
            keepalive.hybrid(counts, fallback=fallback),
            minute_by_minute(counts, hybrid_decision(fallback)),
        )


def test_the_notebooks_day_agrees_with_the_minute_by_minute_walk(day):
    _, counts = traces.per_application(day)
    quiet = counts.sum(axis=1) < 500  # the walk is slow on the millions; these are most apps
    sample = counts[quiet][:200]
    assert len(sample) == 200
    pd.testing.assert_frame_equal(
        keepalive.hybrid(sample, fallback=10), minute_by_minute(sample, hybrid_decision(10))
    )
    pd.testing.assert_frame_equal(
        keepalive.fixed(sample, 20), minute_by_minute(sample, fixed_decision(20))
    )
