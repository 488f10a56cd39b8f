"""Notebooks are committed clean and valid, and every lesson runs headless without an error or a warning.

Every ``claim("...")`` a lesson makes is executed by its run, none skipped (course_utils/claims.py).
"""

import ast
import json

import pytest

from conftest import ALL_NOTEBOOKS, LESSONS, ROOT, lesson_run
from course_utils.notebooks import read_notebook


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


def claims_in_source(nb) -> list[str]:
    """The statement of every ``claim("...", ...)`` call in a notebook's code cells."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: not in our lessons
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "claim":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                    f"claim(...) needs its sentence as a string literal (line {node.lineno})"
                found.append(first.value)
    return found


def test_claims_in_source_reads_literal_statements():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('claim("a", 1 < 2)\nx = 1'),
                                         nbformat.v4.new_markdown_cell('claim("not code", True)')])
    assert claims_in_source(nb) == ["a"]


@pytest.mark.xdist_group("lessons")  # one process runs every lesson once (conftest.lesson_run), the site reuses them
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes_cleanly(path):
    nb = read_notebook(path)
    result, made = lesson_run(path)  # one run per session, shared with the site's test
    assert result.status == "ok", result.summary()
    assert all(entry["holds"] for entry in made)
    skipped = set(claims_in_source(nb)) - {entry["statement"] for entry in made}
    assert not skipped, f"{path.name}: claims never executed: {sorted(skipped)}"
    for index, cell in enumerate(result.notebook.cells):
        for output in cell.get("outputs", []):
            assert not (output.output_type == "stream" and output.name == "stderr"), \
                f"{path.name} cell {index} writes to stderr: {output.text[:300]}"
