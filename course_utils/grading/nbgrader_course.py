"""``course grade`` for any nbgrader assignment: nbgrader's cells, nbgrader's points, our sandbox.

A lab of this course checks answers with ``check(...)`` and is judged outside
the learner's kernel (:mod:`.grade`). An nbgrader assignment from elsewhere has
plain ``assert`` test cells, judged *in* the kernel; this module grades it with
nbgrader's own semantics, reusing nbgrader's code wherever it does the job:

* the source is prepared by nbgrader's own preprocessors, as ``nbgrader
  generate_assignment`` does (``LockCells``, ``ClearSolutions``,
  ``ClearOutput``, ``ComputeChecksums``; then ``ClearHiddenTests``,
  ``ClearMarkScheme`` for the version learners received);
* the submission is sanitized as ``nbgrader autograde`` does (``ClearOutput``,
  ``DeduplicateIds``, then *OverwriteCells* made strict: every test, task
  and read-only cell is the source's, hidden tests included, and one that was
  edited, deleted, duplicated or moved is restored and reported ``tampered``);
* it runs in the same sandbox, under the same limits and output cap as a lab,
  with a guard before each test cell (:mod:`.guard`);
* each graded cell is scored by nbgrader's ``determine_grade``: a test cell
  earns its points when it runs without an error or a write to stderr, or the
  partial credit its numeric output gives; a manually graded answer that was
  left as released scores 0 ("no response"), any other manually graded
  answer and every task are ``needs manual grading`` (no points yet, never
  silently 0 or full).

Which path applies is decided per source notebook (:func:`is_plain_nbgrader`):
a notebook whose test cells call ``check("...")`` is a lab; one with nbgrader
grade or task cells and no ``check`` is graded here.

Example::

    grader = CourseGrader(Sandbox.create(Limits()))
    graded = grader.grade(submission)       # an NbgraderGraded for an nbgrader source
    [(row.exercise, row.points, row.status.value) for row in graded.rows]
    # [('correct_squares', 1.0, 'passed'), ('answer', None, 'needs manual grading'), ...]
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import shutil
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.checks.engine import Status
from course_utils.grading.collect import Submission
from course_utils.grading.files import NotRegular, TooLarge, kind_of, read_under
from course_utils.grading.grade import Graded, Grader, Row, Task, noted_row, parse_task
from course_utils.grading.markup import lab_exercises, nbgrader_meta
from course_utils.grading.outcome import Note, Outcome, Tamper
from course_utils.grading.runner import MAX_OUTPUT_BYTES
from course_utils.grading.sandbox import SCRATCH
from course_utils.notebooks import DEAD, OK, TIMEOUT, TRUNCATED, CellError, NotebookError, cell_errors, \
    execute_notebook, read_notebook

# nbgrader's preprocessors, by name (nbgrader is an instructor's package: imported when grading, never by a learner)
PREPARE = ("LockCells", "ClearSolutions", "ClearOutput", "ComputeChecksums")   # generate_assignment, up to SaveCells
RELEASE = ("ClearHiddenTests", "ClearMarkScheme", "ComputeChecksums")          # ...then what learners receive
SANITIZE = ("ClearOutput", "DeduplicateIds")                                   # autograde, before OverwriteCells
TEST, MANUAL, TASK, SOLUTION, LOCKED = "test", "manual", "task", "solution", "locked"
MAX_FILES_BYTES = 2**20   # the assignment's data files and the learner's own files, all together
NO_RESPONSE = "No response."
GUARD = "course_utils.grading.guard"


def apply(nb: nbformat.NotebookNode, preprocessors: tuple[str, ...]) -> nbformat.NotebookNode:
    """A copy of ``nb`` through nbgrader's ``preprocessors`` (their class names), in order."""
    import nbgrader.preprocessors

    nb, resources = copy.deepcopy(nb), {}
    for name in preprocessors:
        nb, resources = getattr(nbgrader.preprocessors, name)().preprocess(nb, resources)
    return nb


def _nbutils():
    from nbgrader import utils

    return utils


def cell_kind(cell) -> str:
    """What an nbgrader cell is: a test, a manually graded answer, a task, a solution or a locked cell."""
    nbutils = _nbutils()
    if nbutils.is_task(cell):
        return TASK
    if nbutils.is_grade(cell):
        return MANUAL if nbutils.is_solution(cell) or cell.cell_type != "code" else TEST
    if nbutils.is_solution(cell):
        return SOLUTION
    return LOCKED if nbutils.is_locked(cell) else ""


def is_plain_nbgrader(nb: nbformat.NotebookNode) -> bool:
    """True for an nbgrader notebook whose tests are not ``check`` calls (graded by this module).

    >>> v4 = nbformat.v4
    >>> test = lambda code: v4.new_code_cell(code, metadata={"nbgrader": {"grade": True, "grade_id": "t",
    ...                                                                    "points": 1, "solution": False}})
    >>> is_plain_nbgrader(v4.new_notebook(cells=[test("assert f(1) == 2")]))
    True
    >>> is_plain_nbgrader(v4.new_notebook(cells=[test('check("demo.f", f)')]))
    False
    """
    graded = any(cell_kind(cell) in (TEST, MANUAL, TASK) for cell in nb.cells)
    return graded and not lab_exercises(nb)


@dataclass
class SourceCell:
    grade_id: str
    kind: str
    cell: nbformat.NotebookNode       # as nbgrader's gradebook keeps it: solutions cleared, hidden tests kept
    released: nbformat.NotebookNode   # as learners received it
    points: float

    @property
    def fixed(self) -> bool:
        """Always the instructor's: tests, tasks and read-only cells."""
        return self.kind in (TEST, TASK, LOCKED)

    @property
    def hidden(self) -> bool:
        return self.cell.source != self.released.source and self.kind == TEST


@dataclass
class NbgraderSource:
    """An instructor's nbgrader notebook, prepared once for the whole class."""

    name: str
    path: Path
    prepared: nbformat.NotebookNode
    cells: dict[str, SourceCell]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def graded(self) -> list[SourceCell]:
        return [cell for cell in self.cells.values() if cell.kind in (TEST, MANUAL, TASK)]

    def ungradable(self, sub: Submission, status: Outcome, message: str) -> "NbgraderGraded":
        return ungradable(sub, self, status, message)


def load_source(path: Path) -> NbgraderSource:
    """Prepare an nbgrader source notebook as ``nbgrader generate_assignment`` does."""
    prepared = apply(read_notebook(path), PREPARE)
    released = apply(prepared, RELEASE)
    cells: dict[str, SourceCell] = {}
    for cell, learner in zip(prepared.cells, released.cells):
        kind = cell_kind(cell)
        if not kind:
            continue
        meta = nbgrader_meta(cell)
        points = float(meta.get("points", 0) or 0) if kind in (TEST, MANUAL, TASK) else 0.0
        cells[meta["grade_id"]] = SourceCell(meta["grade_id"], kind, cell, learner, points)
    return NbgraderSource(path.stem, path, prepared, cells, _folder_files(path.parent))


def _folder_files(folder: Path) -> dict[str, bytes]:
    """The non-notebook files of an assignment's source folder (nbgrader copies them next to each
    submission), up to ``MAX_FILES_BYTES`` in all; hidden files and checkpoints are left out."""
    found, size = {}, 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        if kind_of(path) != "file" or path.suffix == ".ipynb":
            continue
        size += path.stat().st_size
        if size > MAX_FILES_BYTES:
            break
        found[relative.as_posix()] = read_under(folder, relative, MAX_FILES_BYTES)
    return found


# -- the notebook that runs --------------------------------------------------------------------------

@dataclass
class Restored:
    notebook: nbformat.NotebookNode
    tampered: dict[str, Note] = field(default_factory=dict)   # grade id -> what happened to it
    notes: list[Note] = field(default_factory=list)


def restore(source: NbgraderSource, submitted: nbformat.NotebookNode) -> Restored:
    """nbgrader's sanitizing (``ClearOutput``, ``DeduplicateIds``, ``OverwriteCells``), made strict."""
    counts = Counter(nbgrader_meta(c).get("grade_id") for c in submitted.cells if cell_kind(c))
    nb = apply(submitted, SANITIZE)   # nbgrader keeps the last copy of an id
    result = Restored(nb)
    label = {TEST: "test", TASK: "task", LOCKED: "read-only"}

    def report(spec: SourceCell, what: Tamper) -> None:
        if spec.fixed:
            result.tampered.setdefault(spec.grade_id, Note(f"{label[spec.kind]} cell {spec.grade_id}", what))

    cells, present = [], []
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        spec = source.cells.get(gid) if gid else None
        if spec is None:
            cell.metadata.pop("nbgrader", None)   # not a cell of this assignment: not graded
            cells.append(cell)
            continue
        if counts[gid] > 1:
            report(spec, Tamper.DUPLICATED)
        if spec.fixed:
            if (cell.cell_type, cell.source, cell_kind(cell)) != (spec.released.cell_type, spec.released.source,
                                                                 spec.kind):
                report(spec, Tamper.EDITED)
            restored = copy.deepcopy(spec.cell)
            if "id" in cell:
                restored["id"] = cell["id"]
            cell = restored
        else:
            if cell.cell_type != spec.cell.cell_type:
                cell = _as_type(cell, spec.cell.cell_type)
            cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(spec.cell))
        cells.append(cell)
        present.append(gid)
    order = list(source.cells)
    for gid, spec in source.cells.items():
        if gid in present:
            continue
        if spec.fixed:
            report(spec, Tamper.DELETED)
        else:
            result.notes.append(Note(f"answer cell {gid} was deleted: graded as not answered"))
        earlier = [g for g in order[:order.index(gid)] if g in present]
        at = next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == earlier[-1]) + 1 \
            if earlier else 0
        cells.insert(at, copy.deepcopy(spec.cell if spec.fixed else spec.released))
        present.insert(present.index(earlier[-1]) + 1 if earlier else 0, gid)
    fixed_order = [gid for gid in present if source.cells[gid].fixed]
    if fixed_order != [gid for gid in order if source.cells[gid].fixed]:
        result.notes.append(Note("test or read-only cells", Tamper.MOVED))
    nb.cells = cells
    return result


def _as_type(cell, cell_type: str):
    """nbgrader's ``OverwriteCells.update_cell_type``: a cell whose type the learner changed."""
    if cell_type == "code":
        return nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
    return nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)


@dataclass
class Guarded:
    """The notebook that runs: a setup cell, then the restored cells, each test between two guard cells."""

    notebook: nbformat.NotebookNode
    position: dict[int, int]                 # index in the restored notebook -> index in ``notebook``
    guards: dict[int, tuple[str, int]]       # test cell's index (restored) -> (token, index of its guard)
    setup: tuple[str, int]


def guarded(restored: nbformat.NotebookNode, files: dict[str, bytes]) -> Guarded:
    """Insert the setup cell (the assignment's files and the guard's snapshot) and the guard cells."""
    def call(function: str, *args) -> nbformat.NotebookNode:
        return nbformat.v4.new_code_cell(f"__import__({GUARD!r}, fromlist=['_']).{function}("
                                         + ", ".join(repr(arg) for arg in args) + ")")

    encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
    token = secrets.token_hex(8)
    cells = [call("install", token, encoded)]
    setup = (token, 0)
    position, guards = {}, {}
    for index, cell in enumerate(restored.cells):
        test = cell.cell_type == "code" and cell_kind(cell) == TEST
        if test:
            token = secrets.token_hex(8)
            guards[index] = (token, len(cells))
            cells.append(call("before", token))
        position[index] = len(cells)
        cells.append(cell)
        if test:
            cells.append(call("after", secrets.token_hex(8)))
    notebook = copy.deepcopy(restored)
    notebook.cells = cells
    return Guarded(notebook, position, guards, setup)


def guard_report(cell, token: str) -> list[str] | None:
    """The findings a guard cell printed, or None if it printed no line with its token."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(token + " "):
                    try:
                        return [str(item) for item in json.loads(line[len(token) + 1:])]
                    except ValueError:
                        return None
    return None


# -- scoring -----------------------------------------------------------------------------------------

@dataclass
class CellGrade:
    """One graded cell, as nbgrader's gradebook holds it, plus what the learner is told."""

    grade_id: str
    kind: str
    auto_score: float | None      # None: needs manual grading
    max_points: float
    status: Status | Outcome
    message: str = ""
    comment: str | None = None    # nbgrader's auto comment ("No response.")

    @property
    def needs_manual(self) -> bool:
        return self.auto_score is None


def score_cell(cell, spec: SourceCell, log=None) -> CellGrade:
    """nbgrader's ``determine_grade`` on an executed cell, with our status and message."""
    if spec.kind == TASK:
        return CellGrade(spec.grade_id, TASK, None, spec.points, Outcome.NEEDS_MANUAL, "a task: graded by hand")
    if spec.kind == MANUAL:
        score, _ = _nbutils().determine_grade(cell, log)
        if score is None:
            return CellGrade(spec.grade_id, MANUAL, None, spec.points, Outcome.NEEDS_MANUAL,
                             "a written answer: graded by hand")
        return CellGrade(spec.grade_id, MANUAL, float(score), spec.points, Status.NOT_ATTEMPTED, "no response",
                         NO_RESPONSE)
    try:
        score, _ = _nbutils().determine_grade(cell, log)
    except ValueError as exc:   # partial credit above the cell's points: nbgrader stops; we give 0
        return CellGrade(spec.grade_id, TEST, 0.0, spec.points, Status.ERROR, str(exc))
    score = float(score)
    status = Status.PASSED if score >= spec.points else Status.PARTIAL if score > 0 else Status.FAILED
    return CellGrade(spec.grade_id, TEST, score, spec.points, status, _test_message(cell, spec, score))


def _test_message(cell, spec: SourceCell, score: float) -> str:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            if spec.hidden:   # its message may quote a hidden test
                return f"{output.ename} (this test has hidden parts)"
            return f"{output.ename}: {output.evalue}".rstrip(": ")
        if output.output_type == "stream" and output.name == "stderr":
            return "the test wrote to stderr, which nbgrader scores as a failure"
    if 0 < score < spec.points:
        return f"partial credit: {score:g} of {spec.points:g}"
    return ""


# -- grading a class ---------------------------------------------------------------------------------

@dataclass
class NbgraderGraded(Graded):
    """A graded nbgrader notebook: the rows, and what nbgrader's gradebook and feedback need."""

    cells: list[CellGrade] = field(default_factory=list)
    executed: nbformat.NotebookNode | None = None   # the restored notebook with its outputs (nbgrader's autograded/)
    source: NbgraderSource | None = None


class CourseGrader(Grader):
    """``course grade``'s grader: labs as :class:`.grade.Grader` does, nbgrader notebooks here."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sources: dict[Path, NbgraderSource | None] = {}
        self._sources_lock = threading.Lock()

    def nbgrader_source(self, path: Path) -> NbgraderSource | None:
        """The prepared nbgrader source, or None when ``path`` is a lab (or cannot be read)."""
        with self._sources_lock:
            if path not in self._sources:
                try:
                    nb = read_notebook(path)
                    self._sources[path] = load_source(path) if is_plain_nbgrader(nb) else None
                except (NotebookError, OSError, ValueError):
                    self._sources[path] = None    # the lab path says why
            return self._sources[path]

    def lab(self, path: Path, log=print):
        return self.nbgrader_source(path) or super().lab(path, log)

    def _grade(self, task: Task, lab) -> Graded:
        if not isinstance(lab, NbgraderSource):
            return super()._grade(task, lab)
        sub, source = task.submission, lab
        submitted = parse_task(task, source)
        if isinstance(submitted, Graded):
            return submitted
        if not any(nbgrader_meta(cell).get("grade_id") for cell in submitted.cells):
            return ungradable(sub, source, Outcome.NO_GRADED_CELLS, "the notebook's nbgrader metadata is missing "
                                                                    "(was it copied into a new notebook?)")
        restored = restore(source, submitted)
        notes = [Note(note) for note in sub.notes] + restored.notes
        kernel = submitted.metadata.get("kernelspec", {}).get("name")
        if kernel not in (None, "python3"):
            notes.append(Note(f"kernel {kernel!r} ignored: graded with Python 3"))
        files, skipped = self._files(sub, source)
        if skipped:
            notes.append(Note(f"files not given to the notebook (over {MAX_FILES_BYTES // 2**20} MB in all, "
                              f"or not regular files): {', '.join(skipped)}"))
        return self._run_nbgrader(sub, source, restored, files, notes)

    def _files(self, sub: Submission, source: NbgraderSource) -> tuple[dict[str, bytes], list[str]]:
        """The learner's own files beside the notebook, then the source's (which win), as nbgrader does;
        only in nbgrader's layout (``source/<assignment>/``), never a lab folder's other files."""
        files: dict[str, bytes] = {}
        skipped: list[str] = []
        folder = sub.path.parent if sub.path is not None else None
        if folder is not None and sub.root is not None and folder != sub.root and folder.name == sub.assignment:
            size = 0
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or path.suffix == ".ipynb" or path.name == "timestamp.txt":
                    continue
                try:
                    data = read_under(sub.root, path.relative_to(sub.root), MAX_FILES_BYTES - size)
                except (NotRegular, TooLarge, OSError):
                    skipped.append(path.name)
                    continue
                size += len(data)
                files[path.name] = data
        if source.path.parent.name == sub.assignment:
            files.update(source.files)
        if sum(len(data) for data in files.values()) > MAX_FILES_BYTES:
            skipped += sorted(name for name in files if name not in source.files)
            files = dict(source.files)
        return files, skipped

    def _run_nbgrader(self, sub: Submission, source: NbgraderSource, restored: Restored, files: dict[str, bytes],
                      notes: list[Note]) -> NbgraderGraded:
        run = guarded(restored.notebook, files)
        with self._lock:
            self._counter += 1
            workdir = self.scratch_root / f"{self._counter:05d}"
        workdir.mkdir(mode=0o700)
        replies: dict[int, dict] = {}

        def executed(cell=None, cell_index=None, execute_reply=None, **_):
            replies[cell_index] = (execute_reply or {}).get("content", {})

        launch, session = self.sandbox.launch(workdir, {"NBGRADER_EXECUTION": "autograde"}, (), None)  # as nbgrader
        try:
            cwd = workdir if self.sandbox.use_bwrap else workdir / "scratch"
            execution = execute_notebook(run.notebook, cwd=cwd, timeout=self.timeout, launch=launch,
                                         allow_errors=True, hooks={"on_cell_executed": executed},
                                         max_output_bytes=MAX_OUTPUT_BYTES)
        finally:
            stopped_at = session.finish()
            if not self.keep_scratch:
                shutil.rmtree(workdir, ignore_errors=True)
        ran = execution.notebook
        clean = lambda text: text.replace(str(workdir), "<scratch>").replace(SCRATCH, "<scratch>")
        graded_nb = copy.deepcopy(restored.notebook)
        truncated_at = None
        for index, at in run.position.items():
            cell = graded_nb.cells[index]
            if cell.cell_type == "code":
                cell.outputs = ran.cells[at].get("outputs", [])
                cell.execution_count = ran.cells[at].get("execution_count")
                _add_reply_error(cell, replies.get(at))
                if truncated_at is None and any(o.get("text") == TRUNCATED for o in cell.outputs):
                    truncated_at = index
        if execution.truncated:
            notes.append(Note(f"the notebook printed more than {MAX_OUTPUT_BYTES // 2**20} MB: outputs truncated"))
        run_message = self._run_message(execution.status, stopped_at)
        if stopped_at:
            notes.append(Note(run_message))
        setup = guard_report(ran.cells[run.setup[1]], run.setup[0])
        findings = set()
        grades = []
        positions = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(graded_nb.cells)
                     if nbgrader_meta(c).get("grade_id")}
        for spec in source.graded:
            index = positions[spec.grade_id]
            cell = graded_nb.cells[index]
            grade = score_cell(cell, spec)
            if spec.kind == TEST:
                at = run.position[index]
                token, guard_at = run.guards[index]
                report = guard_report(ran.cells[guard_at], token)
                if at not in replies:
                    grade = CellGrade(spec.grade_id, TEST, 0.0, spec.points,
                                      Status.TIMEOUT if execution.status == TIMEOUT else Outcome.KERNEL_DIED
                                      if execution.status == DEAD else Status.ERROR,
                                      "" if stopped_at else run_message or "this test never ran")
                elif truncated_at is not None and index >= truncated_at:
                    grade = CellGrade(spec.grade_id, TEST, 0.0, spec.points, Status.ERROR,
                                      "the notebook printed too much before this test: its result could not be read")
                elif report is None or setup is None:
                    grade = CellGrade(spec.grade_id, TEST, 0.0, spec.points, Outcome.TAMPERED,
                                      "the grader's guard did not run before this test: the kernel was tampered with")
                else:
                    findings.update(report)
                if grade.status in (Status.TIMEOUT, Outcome.KERNEL_DIED, Outcome.TAMPERED) or (
                        grade.status == Status.ERROR and not cell_errors_of(cell)):
                    _add_grader_error(cell, grade)   # the autograded notebook says it, and scores it 0 too
            grades.append(grade)
        notes += [Note(finding, Tamper.KERNEL) for finding in sorted(findings)]
        errors = [CellError(e.index, e.grade_id, e.ename, clean(e.evalue), [clean(line) for line in e.traceback])
                  for e in cell_errors(graded_nb) if cell_kind(graded_nb.cells[e.index]) != TEST]
        rows = [noted_row(sub, grade.grade_id, grade.auto_score, grade.max_points, grade.status, grade.message,
                          restored.tampered.get(grade.grade_id), notes) for grade in grades]
        return NbgraderGraded(sub, rows, [], errors, [str(note) for note in notes], cells=grades, executed=graded_nb,
                              source=source)


def cell_errors_of(cell) -> list:
    return [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def _add_grader_error(cell, grade: CellGrade) -> None:
    """An error output saying why the grader scored this test 0, so that nbgrader's ``determine_grade`` on
    the autograded notebook (``SaveAutoGrades``, feedback) gives the same 0."""
    cell.outputs.insert(0, nbformat.v4.new_output("error", ename="GraderError", evalue=grade.message or str(grade.status),
                                               traceback=[f"GraderError: {grade.message or grade.status}"]))


def _add_reply_error(cell, reply: dict | None) -> None:
    """nbgrader's ``Execute.on_cell_executed``: a cell whose reply says error gets an error output, even if
    the kernel showed none (a silenced traceback still fails the test)."""
    if not reply or reply.get("status") != "error":
        return
    if any(o.get("output_type") == "error" and o.get("ename") == reply.get("ename") for o in cell.outputs):
        return
    cell.outputs.append(nbformat.v4.new_output("error", ename=str(reply.get("ename", "")),
                                               evalue=str(reply.get("evalue", "")),
                                               traceback=[str(line) for line in reply.get("traceback", [])][-20:]
                                               or ["ERROR: an error occurred while showtraceback was disabled"]))


def ungradable(sub: Submission, source: NbgraderSource, status: Outcome, message: str) -> NbgraderGraded:
    """0 for every autograded cell (nbgrader gives a missing notebook 0), saying why."""
    message = "; ".join([*sub.notes, message])
    grades = [CellGrade(spec.grade_id, spec.kind, 0.0, spec.points, status, message) for spec in source.graded]
    rows = [Row(sub.student, sub.assignment, sub.notebook, g.grade_id, 0.0, g.max_points, status, message)
            for g in grades]
    return NbgraderGraded(sub, rows, notes=list(sub.notes), cells=grades, source=source)
