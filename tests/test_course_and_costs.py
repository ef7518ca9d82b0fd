"""The workshop map matches the files, and the price arithmetic matches AWS's price list."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop import course
from workshop.costs import Usage, monthly_cost

ROOT = Path(__file__).resolve().parent.parent


def test_every_notebook_file_is_on_the_map():
    on_map = {n.filename for n in course.NOTEBOOKS}
    files = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert files <= on_map, f"notebooks missing from workshop/course.py: {files - on_map}"
    assert [n.number for n in course.NOTEBOOKS] == list(range(11))


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for notebook in course.NOTEBOOKS:
        assert notebook.title in readme, notebook.title


def test_contents_says_which_notebooks_exist():
    table = course.contents()
    assert table.loc["00_welcome.ipynb", "in this copy"] == "yes"
    assert set(table["in this copy"]) <= {"yes", "not yet"}


@pytest.mark.parametrize(
    ("usage", "service", "expected"),
    [
        (Usage(sqs_requests=1_000_000), "sqs", 0.0),
        (Usage(sqs_requests=3_000_000), "sqs", 0.80),
        (Usage(sqs_requests=3_000_000, sqs_fifo=True), "sqs", 1.00),
        (Usage(lambda_requests=2_000_000, lambda_gb_seconds=400_000), "lambda", 0.20),
        (Usage(lambda_gb_seconds=460_000), "lambda", 1.000002),
        (Usage(http_api_requests=500_000), "http_api", 0.50),
    ],
)
def test_monthly_cost(usage, service, expected):
    assert monthly_cost(usage)[service] == pytest.approx(expected, abs=1e-6)


def test_cost_without_free_tier():
    assert monthly_cost(Usage(sqs_requests=1000), free_tier=False)["sqs"] == pytest.approx(0.0004)
