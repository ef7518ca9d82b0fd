"""The benchmark scripts still run, end to end, at a tiny size.

Their figures belong in the issues' notes, not in assertions (a loaded machine is slower); what is
checked here is that every section measured something, so a change to the local cloud cannot
quietly break a benchmark (as the execution-role check of event source mappings once did).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *arguments: str) -> str:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


@pytest.mark.parametrize(
    ("script", "arguments", "expected"),
    [
        (
            "api_latency.py",
            ("5", "1", "1", "3"),
            [
                "HTTP API -> warm Lambda            median",
                "requests/s",
                "HTTP API -> SQS-SendMessage        median",
                "queue filling up to 5",
                "HTTP API -> SQS -> Lambda (end to end) median",
            ],
        ),
        ("lambda_starts.py", ("2", "5", "2"), ["warm invoke through boto3", "cold starts"]),
        ("redelivery_delay.py", ("--messages", "3", "--visibility", "1"), ["late by: median"]),
        ("startup.py", ("1",), ["median"]),
    ],
)
def test_a_benchmark_measures_every_figure(script, arguments, expected):
    printed = run(script, *arguments)
    missing = [line for line in expected if line not in printed]
    assert not missing, printed
