"""Build the notebook that is actually graded: the learner's code, the instructor's tests.

nbgrader's *OverwriteCells* idea, made strict: every test cell and locked cell
comes from the instructor's source (matched by ``grade_id``), hidden tests
included, whatever the submission did to its copy. The learner's solution
cells and their own extra cells are kept, in their order. A test cell goes
right before the learner's next solution cell, so that helper cells a learner
added after a solution still run before its test.

What was tampered with -- a test or locked cell edited, deleted, duplicated or
moved -- is reported; the notebook is graded on the source tests anyway.

>>> import nbformat
>>> v4 = nbformat.v4
>>> meta = lambda gid, **kw: {"nbgrader": {"grade_id": gid, "grade": False, "solution": False,
...                                        "locked": False, "schema_version": 3, **kw}}
>>> source = v4.new_notebook(cells=[
...     v4.new_code_cell("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION",
...                      metadata=meta("f", solution=True)),
...     v4.new_code_cell('check("demo.f", f)', metadata=meta("test_f", grade=True, locked=True, points=1))])
>>> learner = v4.new_notebook(cells=[
...     v4.new_code_cell("def f(x):\\n    return 2 * x", metadata=meta("f", solution=True)),
...     v4.new_code_cell('print("passed")', metadata=meta("test_f", grade=True, locked=True, points=1))])
>>> graded = assemble(source, learner)
>>> [cell.source for cell in graded.notebook.cells]
['def f(x):\\n    return 2 * x', 'check("demo.f", f)']
>>> {exercise: str(note) for exercise, note in graded.tampered.items()}
{'demo.f': 'test cell test_f was edited'}
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from course_utils.grading.markup import CHECK_CALL, exercise_notebook, nbgrader_meta
from course_utils.grading.outcome import Note, Outcome, Tamper


@dataclass
class Assembled:
    notebook: nbformat.NotebookNode | None
    exercises: list[tuple[str, int]]           # (exercise id, index of its test cell in ``notebook``)
    tampered: dict[str, Note] = field(default_factory=dict)  # exercise id -> what happened to its test
    notes: list[Note] = field(default_factory=list)          # what concerns the whole notebook
    problem: tuple[Outcome, str] | None = None               # why the notebook cannot be graded at all


_meta = nbgrader_meta


def _kind(cell) -> str:
    meta = _meta(cell)
    if not meta:
        return ""
    if meta.get("solution"):
        return "solution"
    if meta.get("grade") or meta.get("locked"):
        return "fixed"  # test cells and locked cells: always the instructor's
    return ""


def assemble(source: nbformat.NotebookNode, submission: nbformat.NotebookNode,
             released: nbformat.NotebookNode | None = None) -> Assembled:
    """The notebook to execute for ``submission`` of the lab ``source`` (see the module doc)."""
    released = released or exercise_notebook(source, "source")
    source_cells = [cell for cell in source.cells if _kind(cell)]
    source_ids = [_meta(cell)["grade_id"] for cell in source_cells]
    released_by_id = {_meta(c)["grade_id"]: c for c in released.cells if _kind(c)}
    kinds = {_meta(c)["grade_id"]: _kind(c) for c in source_cells}
    exercise_of = {gid: (CHECK_CALL.findall(cell.source) or [""])[0]
                   for gid, cell in zip(source_ids, source_cells) if _meta(cell).get("grade")}

    if not submission.cells:
        return Assembled(None, [], problem=(Outcome.EMPTY, "it has no cells"))
    submitted_ids = [_meta(c).get("grade_id") for c in submission.cells if _meta(c).get("grade_id")]
    if not submitted_ids:
        return Assembled(None, [], problem=(Outcome.NO_GRADED_CELLS, "the notebook's nbgrader metadata is missing "
                                                                     "(was it copied into a new notebook?)"))
    graded_ids = {gid for gid, cell in zip(source_ids, source_cells) if _meta(cell).get("solution")
                  or _meta(cell).get("grade")}  # not the generic locked cells, such as "setup"
    origin = str(submission.metadata.get("course", {}).get("generated_from", ""))
    if not set(submitted_ids) & graded_ids:
        which = f" (it is {origin.rsplit('/', 1)[-1]})" if origin else ""
        return Assembled(None, [], problem=(Outcome.WRONG_NOTEBOOK,
                                            f"none of its exercises belongs to this lab{which}"))

    tampered: dict[str, Note] = {}
    notes: list[Note] = []

    def report(gid: str, what: Tamper) -> None:
        note = Note(f"{'test' if gid in exercise_of else 'locked'} cell {gid}", what)
        if gid in exercise_of:
            tampered.setdefault(exercise_of[gid], note)
        else:
            notes.append(note)

    # What happened to the fixed cells in the submission?
    seen: dict[str, int] = {}
    for cell in submission.cells:
        gid = _meta(cell).get("grade_id")
        if gid in kinds:
            seen[gid] = seen.get(gid, 0) + 1
    for gid, kind in kinds.items():
        if kind != "fixed":
            continue
        if gid not in seen:
            report(gid, Tamper.DELETED)
            continue
        if seen[gid] > 1:
            report(gid, Tamper.DUPLICATED)
        mine = next(c for c in submission.cells if _meta(c).get("grade_id") == gid)
        theirs = released_by_id[gid]
        if (mine.cell_type != theirs.cell_type or mine.source != theirs.source
                or _flags(mine) != _flags(theirs)):
            report(gid, Tamper.EDITED)
    fixed_order = [gid for gid in source_ids if kinds[gid] == "fixed" and gid in seen]
    submitted_order = list(dict.fromkeys(g for g in submitted_ids if kinds.get(g) == "fixed"))
    if submitted_order != fixed_order:
        notes.append(Note("test or locked cells", Tamper.MOVED))

    # The learner's cells: solution cells (with the source's metadata) and their own cells.
    learner: list = []
    present: set[str] = set()
    by_id = dict(zip(source_ids, source_cells))
    for cell in submission.cells:
        gid = _meta(cell).get("grade_id")
        if gid in kinds and kinds[gid] == "fixed":
            continue
        cell = copy.deepcopy(cell)
        if gid in kinds:  # a solution cell: keep the code, take the metadata from the source
            if gid in present:
                cell.metadata.pop("nbgrader", None)  # a second copy is just a learner cell
            else:
                cell.metadata["nbgrader"] = copy.deepcopy(_meta(by_id[gid]))
                present.add(gid)
        else:
            cell.metadata.pop("nbgrader", None)  # unknown grade ids are not graded
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        learner.append(cell)

    # Insert the instructor's cells (and stubs for deleted solution cells) where they belong.
    inserts: dict[int, list] = {}
    last_solution = None
    for gid, cell in zip(source_ids, source_cells):
        if kinds[gid] == "solution" and gid in present:
            last_solution = gid
            continue
        if kinds[gid] == "solution":
            cell = released_by_id[gid]  # deleted by the learner: graded as not attempted
            notes.append(Note(f"solution cell {gid} was deleted: graded as not attempted"))
        position = _insert_position(learner, last_solution)
        inserts.setdefault(position, []).append(copy.deepcopy(cell))
    cells = []
    for position in range(len(learner) + 1):
        cells += inserts.get(position, [])
        if position < len(learner):
            cells.append(learner[position])

    notebook = copy.deepcopy(source)
    notebook.cells = cells
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    exercises = []
    for index, cell in enumerate(notebook.cells):
        gid = _meta(cell).get("grade_id")
        if gid in exercise_of and exercise_of[gid]:
            exercises.append((exercise_of[gid], index))
    return Assembled(notebook, exercises, tampered, notes)


def _flags(cell) -> tuple:
    meta = _meta(cell)
    return tuple(meta.get(key) for key in ("grade", "solution", "locked", "points"))


def _insert_position(learner: list, after_solution: str | None) -> int:
    """Right before the first solution cell that follows ``after_solution`` (or the end).

    With no solution cell before it (the setup cell), at the very top.
    """
    if after_solution is None:
        return 0
    start = next(i for i, cell in enumerate(learner) if _meta(cell).get("grade_id") == after_solution)
    for index in range(start + 1, len(learner)):
        if _meta(learner[index]).get("solution"):
            return index
    return len(learner)

