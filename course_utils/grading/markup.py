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
    """Replace each ``### BEGIN/END SOLUTION`` region by the nbgrader code stub (nbgrader's own code,
    once :func:`check_regions` found the markers balanced)."""
    from nbgrader.preprocessors import ClearSolutions

    check_regions(source, BEGIN_SOLUTION, END_SOLUTION)
    cell = nbformat.v4.new_code_cell(source)
    ClearSolutions()._replace_solution_region(cell, "python")
    return cell.source


def remove_hidden_tests(source: str) -> str:
    """Drop every ``### BEGIN/END HIDDEN TESTS`` region, markers included (nbgrader's own code, once
    :func:`check_regions` found the markers balanced)."""
    from nbgrader.preprocessors import ClearHiddenTests

    check_regions(source, BEGIN_HIDDEN, END_HIDDEN)
    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source.rstrip("\n")


def check_regions(source: str, begin: str, end: str) -> None:
    """Raise :class:`MarkupError` unless every ``begin`` has its ``end``, unnested: stricter than nbgrader,
    which lets an ``end`` without ``begin`` pass, and says which marker is wrong."""
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise MarkupError(f"nested {begin}")
            inside = True
        elif marker == end:
            if not inside:
                raise MarkupError(f"{end} without {begin}")
            inside = False
    if inside:
        raise MarkupError(f"{begin} is never closed")


def exercise_notebook(solution: nbformat.NotebookNode, source_name: str) -> nbformat.NotebookNode:
    """The learner version of a lab, by nbgrader's own preprocessors (``ClearSolutions``,
    ``ClearHiddenTests``, ``ClearOutput``), as ``nbgrader generate_assignment`` makes it: solutions
    replaced, hidden tests removed, outputs cleared. The markers are checked first (:func:`check_regions`)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    for cell in solution.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution") and BEGIN_SOLUTION in cell.source:
            raise MarkupError(f"cell {meta.get('grade_id', '?')!r} has a solution region but is not "
                              "an nbgrader solution cell")
        check_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)
        check_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
    nb, resources = copy.deepcopy(solution), {}
    for preprocessor in (ClearSolutions, ClearHiddenTests, ClearOutput):
        nb, resources = preprocessor().preprocess(nb, resources)
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
