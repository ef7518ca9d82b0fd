"""Every notebook follows the workshop's shape and is committed clean."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = [path.name for path in NOTEBOOKS]
    assert "00_welcome.ipynb" in names
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name) for name in names), names


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.name)
def notebook(request) -> nbformat.NotebookNode:
    raw = nbformat.read(request.param, as_version=nbformat.NO_CONVERT)
    nbformat.validate(raw)
    return raw


def test_format_and_kernel(notebook):
    assert (notebook.nbformat, notebook.nbformat_minor) >= (4, 5)
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.kernelspec.language == "python"
    ids = [cell.get("id") for cell in notebook.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique id"


def test_committed_without_outputs(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has stored outputs"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"


def test_title_first_and_learning_goals(notebook):
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"# \d\d · \S", first.source), "the first cell starts with '# NN · Title'"
    assert "what you will learn" in first.source.lower()


def test_parameters_cell_reads_the_backend(notebook):
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert 'BACKEND = os.environ.get("WORKSHOP_BACKEND", "local")' in tagged[0].source
    later = notebook.cells[notebook.cells.index(tagged[0]) + 1 :]
    assert any("workshop.connect(BACKEND)" in c.source for c in later if c.cell_type == "code")


def test_numbered_sections_clean_up_and_summary(notebook):
    headings = [
        line
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert sum(bool(re.match(r"## \d+\. ", h)) for h in headings) >= 3, headings
    assert any(re.match(r"## \d+\. Clean up", h) for h in headings), "needs a '## N. Clean up'"
    assert headings[-1] == "## Summary", "the last section is the summary"
    clean_up = next(
        i for i, c in enumerate(notebook.cells) if re.search(r"^## \d+\. Clean up", c.source, re.M)
    )
    assert any(
        "cleanup()" in c.source for c in notebook.cells[clean_up:] if c.cell_type == "code"
    ), "the clean-up section runs cleanup()"


def test_cells_that_raise_are_tagged(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code" and "raises-exception" in cell.metadata.get("tags", []):
            assert cell.source.strip(), "a raises-exception cell must do something"
