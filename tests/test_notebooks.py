"""Notebooks are committed clean and valid, and every lesson runs headless without an error or a warning."""

import json

import pytest

from conftest import ALL_NOTEBOOKS, LESSONS, ROOT
from course_utils.notebooks import execute_notebook, read_notebook


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_committed_without_outputs_and_valid(path):
    nb = read_notebook(path)  # raises on an invalid notebook
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4


def test_every_lab_has_a_lesson():
    lessons = {p.stem.split("_")[0] for p in LESSONS}
    for solution in (ROOT / "solutions").glob("*.ipynb"):
        assert solution.stem.split("_")[0] in lessons, f"{solution.name} has no lesson in notebooks/"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes_cleanly(path):
    result = execute_notebook(read_notebook(path), cwd=path.parent, timeout=300)
    assert result.status == "ok", result.summary()
    for index, cell in enumerate(result.notebook.cells):
        for output in cell.get("outputs", []):
            assert not (output.output_type == "stream" and output.name == "stderr"), \
                f"{path.name} cell {index} writes to stderr: {output.text[:300]}"
