"""nbgrader's markup in a lab: solution regions, hidden tests, test cells and the learner's version.

Shared by ``course release`` (which writes the learner's version) and the
grader (which compares a submission with it), so that neither imports the
other.

>>> print(replace_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"))
def f(x):
    # YOUR CODE HERE
    raise NotImplementedError()
"""

from __future__ import annotations

import copy
import re

import nbformat

from course_utils.notebooks import cells_digest

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")


class MarkupError(ValueError):
    """Unbalanced or misplaced nbgrader markers; the message says which."""


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata (``{}`` for an ordinary cell)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def replace_solutions(source: str) -> str:
    """Replace each ``### BEGIN/END SOLUTION`` region by the nbgrader code stub."""
    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, lambda indent: [indent + s for s in CODE_STUB])


def remove_hidden_tests(source: str) -> str:
    """Drop every ``### BEGIN/END HIDDEN TESTS`` region, markers included."""
    return _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: []).rstrip("\n")


def _replace_regions(source: str, begin: str, end: str, replacement) -> str:
    """Replace every ``begin``..``end`` region (markers included) by ``replacement(indent)`` lines."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise MarkupError(f"nested {begin}")
            inside = True
            out += replacement(line[: len(line) - len(line.lstrip())])
        elif marker == end:
            if not inside:
                raise MarkupError(f"{end} without {begin}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkupError(f"{begin} is never closed")
    return "\n".join(out)


def exercise_notebook(solution: nbformat.NotebookNode, source_name: str) -> nbformat.NotebookNode:
    """The learner version of a lab: solutions replaced, hidden tests removed, outputs cleared."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if meta.get("solution"):
            cell.source = MARKDOWN_STUB if cell.cell_type == "markdown" else replace_solutions(cell.source)
        elif BEGIN_SOLUTION in cell.source:
            raise MarkupError(f"cell {meta.get('grade_id', '?')!r} has a solution region but is not "
                              "an nbgrader solution cell")
        cell.source = remove_hidden_tests(cell.source)
    nb.metadata["course"] = {"generated_from": source_name, "cells_sha256": cells_digest(nb)}
    return nb


def lab_exercises(nb: nbformat.NotebookNode) -> list[tuple[str, int]]:
    """``(exercise id, cell index)`` of every ``check("...")`` in the lab's test cells, in order.

    Test cells are nbgrader grade cells: a ``check`` in an ordinary cell (a
    lesson's demonstration, a learner's experiment) is not graded.

    >>> v4 = nbformat.v4
    >>> nb = v4.new_notebook(cells=[v4.new_code_cell('check("demo.f", f)'),
    ...                             v4.new_code_cell('check("demo.f", f)', metadata={"nbgrader": {"grade": True}})])
    >>> lab_exercises(nb)
    [('demo.f', 1)]
    """
    found: list[tuple[str, int]] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("grade"):
            continue
        for exercise_id in CHECK_CALL.findall(cell.source):
            if exercise_id not in [e for e, _ in found]:
                found.append((exercise_id, index))
    return found
