"""Synthetic invocation traces in the layout of the Azure Functions 2019 trace.

The real trace (Azure/AzurePublicDataset, ``AzureFunctionsDataset2019``, CC BY 4.0) has one file
per day, ``invocations_per_function_md.anon.dNN.csv``, with the columns ``HashOwner, HashApp,
HashFunction, Trigger`` and then ``1 .. 1440``: how many times each function was invoked in each
minute of the day. It cannot be downloaded from the workshop's machines, so :func:`generate`
makes a day of the same shape from a parametric model of our own. **It is synthetic**: it
mimics two things Shahrad et al. report for that trace ("Serverless in the Wild", USENIX ATC
2020, arXiv 2003.03423), that invocation rates span about eight orders of magnitude and that
most functions are invoked rarely, and it invents the rest.

The model, per function (every choice below is ours, not the paper's):

- **Trigger**: one of the trace's trigger classes, drawn with the shares in
  :data:`TRIGGER_SHARES`; :attr:`TraceModel.timer_share` changes the timers' share (0: a day
  without timers) and scales the other classes to fill the rest.
- **Timer functions** run on a schedule: one invocation every ``period`` minutes (a period
  from :data:`TIMER_PERIODS`), from a random first minute. Their idle times are all equal,
  the easiest case there is for a policy that learns idle times.
- **Every other function** has a mean daily rate ``R`` with ``log10 R = low + (high - low) * B``
  and ``B ~ Beta(a, b)``: from 0.1 to 10 million invocations a day (eight decades), skewed so
  that most functions sit near the bottom. Its rate in minute ``t`` is ``R / 1440`` times
  a diurnal wave ``1 + A sin(2 pi t / 1440 + phase)``, times a burst factor per
  half-hour block (Gamma with a small shape: quiet blocks and busy sessions), times a factor
  per minute (Gamma, milder); the count is Poisson with that rate. Both Gamma factors have mean
  1, so ``R`` stays the mean.
- **Applications and owners**: functions are grouped into applications (mostly one function,
  sometimes several) and applications into owners, as in the trace. A keep-alive policy acts
  per application (:mod:`workshop.simulation.keepalive`).

:func:`app_memory` adds the memory each application holds while warm, drawn from a log-normal
whose median is 170 MB and 90th percentile 400 MB, the figures the paper gives for the
applications' memory (half use at most 170 MB, 90% never more than 400 MB).

>>> day = generate(200, seed=1)
>>> day.shape
(200, 1444)
>>> list(day.columns[:5])
['HashOwner', 'HashApp', 'HashFunction', 'Trigger', '1']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MINUTES = 1440
"""Minutes in a day: the trace's columns ``1 .. 1440``."""
ID_COLUMNS = ["HashOwner", "HashApp", "HashFunction", "Trigger"]
MINUTE_COLUMNS = [str(minute) for minute in range(1, MINUTES + 1)]

TRIGGER_SHARES = {
    "http": 0.50,
    "timer": 0.20,
    "queue": 0.10,
    "event": 0.08,
    "storage": 0.05,
    "orchestration": 0.04,
    "others": 0.03,
}
"""How often each trigger class is drawn (our choice; the names are the trace's classes)."""

TIMER_PERIODS = {1: 0.10, 5: 0.20, 10: 0.15, 15: 0.15, 30: 0.10, 60: 0.15, 240: 0.05, 1440: 0.10}
"""Minutes between a timer function's invocations, and how often each is drawn (our choice)."""

MEMORY_MEDIAN_MB = 170.0
MEMORY_P90_MB = 400.0


@dataclass(frozen=True)
class TraceModel:
    """The knobs of the synthetic model; the defaults are what notebook 06 uses."""

    timer_share: float = TRIGGER_SHARES["timer"]
    """Share of timer functions. With 0, the same seed gives the same day except that every
    function that would have been a timer is an ordinary (Poisson) function instead: the
    random draws are the same, only the timers' schedules are not applied."""

    log10_rate_low: float = -1.0
    """Slowest mean rate: 10**-1 = 0.1 invocations a day."""
    log10_rate_high: float = 7.0
    """Fastest mean rate: 10**7 invocations a day, eight decades above the slowest."""
    rate_beta: tuple[float, float] = (1.1, 2.6)
    """Beta(a, b) placing ``log10 R`` in that range; b > a puts most functions low."""
    diurnal_amplitude: tuple[float, float] = (0.2, 0.9)
    """Range of ``A`` in the diurnal wave (drawn uniformly per application)."""
    block_minutes: int = 30
    """Length of a burst block."""
    block_shape: float = 0.5
    """Gamma shape of a block's rate factor: below 1 means long quiet spells and busy bursts."""
    minute_shape: float = 2.0
    """Gamma shape of a minute's rate factor: milder, minute-to-minute jitter."""
    functions_per_app_p: float = 0.6
    """Applications have 1, 2, 3 ... functions with geometric probabilities of this parameter."""
    apps_per_owner_p: float = 0.7
    """Owners have 1, 2, 3 ... applications, likewise."""


def _hashes(rng: np.random.Generator, count: int) -> list[str]:
    """Random 64-hex-digit names, like the trace's anonymised SHA-256 hashes."""
    raw = rng.bytes(32 * count).hex()
    return [raw[64 * i : 64 * (i + 1)] for i in range(count)]


def _groups(rng: np.random.Generator, count: int, p: float) -> np.ndarray:
    """Assign ``count`` items to groups whose sizes are geometric: group index per item."""
    sizes = rng.geometric(p, size=count)  # at least count groups' worth, trimmed below
    return np.repeat(np.arange(count), sizes)[:count]


def generate(
    n_functions: int = 1000,
    *,
    seed: int = 0,
    minutes: int = MINUTES,
    model: TraceModel | None = None,
) -> pd.DataFrame:
    """One synthetic day: a row per function, ``HashOwner, HashApp, HashFunction, Trigger``,
    then one column per minute (``"1"`` .. ``"1440"``) with its invocation count.

    The same ``seed`` gives the same trace. ``minutes`` shortens the day for quick tests.
    """
    if n_functions < 1 or minutes < 1:
        raise ValueError("A trace needs at least one function and one minute.")
    model = model or TraceModel()
    rng = np.random.default_rng(seed)

    app_of = _groups(rng, n_functions, model.functions_per_app_p)
    n_apps = int(app_of[-1]) + 1
    owner_of_app = _groups(rng, n_apps, model.apps_per_owner_p)
    owners = _hashes(rng, int(owner_of_app[-1]) + 1)
    apps = _hashes(rng, n_apps)
    functions = _hashes(rng, n_functions)

    if not 0 <= model.timer_share < 1:
        raise ValueError("timer_share must be at least 0 and below 1.")
    names = list(TRIGGER_SHARES)
    scale = (1 - model.timer_share) / (1 - TRIGGER_SHARES["timer"])  # 1.0 by default
    shares = np.array(
        [model.timer_share if n == "timer" else s * scale for n, s in TRIGGER_SHARES.items()]
    )
    trigger = rng.choice(len(names), size=n_functions, p=shares / shares.sum())
    timer = trigger == names.index("timer")

    # Poisson functions: a mean daily rate, a diurnal wave, bursty blocks, jittery minutes.
    a, b = model.rate_beta
    log10_rate = model.log10_rate_low + (model.log10_rate_high - model.log10_rate_low) * rng.beta(
        a, b, size=n_functions
    )
    per_minute = 10.0**log10_rate / MINUTES
    amplitude = rng.uniform(*model.diurnal_amplitude, size=n_apps)[app_of]
    phase = rng.uniform(0, 2 * math.pi, size=n_apps)[app_of]
    t = np.arange(minutes)
    diurnal = 1.0 + amplitude[:, None] * np.sin(2 * math.pi * t[None, :] / MINUTES + phase[:, None])
    n_blocks = -(-minutes // model.block_minutes)
    blocks = rng.gamma(model.block_shape, 1.0 / model.block_shape, size=(n_functions, n_blocks))
    bursts = np.repeat(blocks, model.block_minutes, axis=1)[:, :minutes]
    jitter = rng.gamma(model.minute_shape, 1.0 / model.minute_shape, size=(n_functions, minutes))
    rate = per_minute[:, None] * diurnal * bursts * jitter
    counts = rng.poisson(rate)

    # Timer functions: exactly one invocation every `period` minutes.
    periods = np.array(list(TIMER_PERIODS))
    weights = np.array(list(TIMER_PERIODS.values()))
    period = rng.choice(periods, size=n_functions, p=weights / weights.sum())
    offset = rng.integers(0, period)
    on_schedule = (t[None, :] - offset[:, None]) % period[:, None] == 0
    counts[timer] = on_schedule[timer]

    ids = pd.DataFrame(
        {
            "HashOwner": [owners[owner_of_app[app]] for app in app_of],
            "HashApp": [apps[app] for app in app_of],
            "HashFunction": functions,
            "Trigger": [names[i] for i in trigger],
        }
    )
    minute_table = pd.DataFrame(counts.astype(np.int64), columns=MINUTE_COLUMNS[:minutes])
    return pd.concat([ids, minute_table], axis=1)


def minute_columns(trace: pd.DataFrame) -> list[str]:
    """The trace's minute columns, in order (``"1"``, ``"2"``, ...)."""
    return [column for column in trace.columns if column not in ID_COLUMNS]


def per_application(trace: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Invocations per application and minute: ``(apps, counts)``.

    ``apps`` has ``HashOwner, HashApp`` and ``functions`` (how many it has), one row per
    application in order of first appearance; ``counts[i, t]`` is the sum over application
    ``i``'s functions in minute ``t``. An application is what a keep-alive policy keeps warm.
    """
    codes, uniques = pd.factorize(trace["HashApp"], sort=False)
    matrix = trace[minute_columns(trace)].to_numpy(dtype=np.int64)
    counts = np.zeros((len(uniques), matrix.shape[1]), dtype=np.int64)
    np.add.at(counts, codes, matrix)
    first = pd.Series(range(len(trace))).groupby(codes).first().to_numpy()
    apps = pd.DataFrame(
        {
            "HashOwner": trace["HashOwner"].to_numpy()[first],
            "HashApp": trace["HashApp"].to_numpy()[first],
            "functions": np.bincount(codes, minlength=len(uniques)),
        }
    )
    return apps, counts


def app_memory(trace: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Memory each application holds while warm, in MB: ``HashOwner, HashApp,
    AverageAllocatedMb`` (the name of the trace's memory file's column).

    Log-normal with median 170 MB and 90th percentile 400 MB, after the paper's figures for
    the applications' memory; clipped to 16 MB .. 10,240 MB.
    """
    apps, _ = per_application(trace)
    rng = np.random.default_rng(seed)
    sigma = math.log(MEMORY_P90_MB / MEMORY_MEDIAN_MB) / 1.2815515655446004  # z of 0.90
    memory = np.exp(rng.normal(math.log(MEMORY_MEDIAN_MB), sigma, size=len(apps)))
    return pd.DataFrame(
        {
            "HashOwner": apps["HashOwner"],
            "HashApp": apps["HashApp"],
            "AverageAllocatedMb": np.clip(memory, 16, 10_240).round(1),
        }
    )


def daily_invocations(trace: pd.DataFrame) -> pd.Series:
    """Invocations of each function over the trace, indexed by ``HashFunction``."""
    return trace[minute_columns(trace)].sum(axis=1).set_axis(trace["HashFunction"])


def preview(trace: pd.DataFrame, rows: int = 5, minutes: int = 6) -> pd.DataFrame:
    """The first ``rows`` functions and ``minutes`` minutes of a trace, for display: the
    64-digit hashes cut to their first 8 digits, which are enough to tell rows apart."""
    shown = trace[ID_COLUMNS + minute_columns(trace)[:minutes]].head(rows).copy()
    for column in ("HashOwner", "HashApp", "HashFunction"):
        shown[column] = shown[column].str[:8] + "…"
    return shown
