"""``course grade``: a whole class, in parallel, each notebook in its own sandboxed kernel.

For each submission: the notebook that runs is the learner's code with the
instructor's test and locked cells (:mod:`.assemble`); it runs in a fresh
kernel, sandboxed, under limits for its whole process tree (:mod:`.sandbox`,
:mod:`.limits`); its test cells only *record* the learner's answers, which
stream back through a pipe (:mod:`.channel`); and the answers are judged
here, in the grader's process, against the reference answers of the
instructor's solution. Nothing a submission does can touch another one, the
files under the submission folder, or the grader.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat

from course_utils.checks.answers import answers_document
from course_utils.checks.engine import ERROR, NOT_ATTEMPTED, ExerciseResult, Status, case_key
from course_utils.checks.registry import EXERCISES
from course_utils.grading.assemble import Assembled, assemble
from course_utils.grading.collect import Submission
from course_utils.grading.files import NotRegular, TooLarge, read_under
from course_utils.grading.lab import grade_records
from course_utils.grading.limits import MEMORY, PROCESSES
from course_utils.grading.markup import exercise_notebook, lab_exercises
from course_utils.grading.outcome import Note, Outcome
from course_utils.grading.runner import MAX_OUTPUT_BYTES, answers_fingerprint, record_reference, run_recorded
from course_utils.grading.sandbox import SCRATCH, Sandbox
from course_utils.grading.variants import Variants, class_variants, copied, default_variants_cache, varying
from course_utils.notebooks import DEAD, TIMEOUT, CellError, NotebookError, parse_notebook, read_notebook

MAX_NOTEBOOK_BYTES = 50 * 2**20
NOT_RECORDED = "no answer was recorded: was check() replaced or the test cell skipped?"
NEVER_RUN = "this exercise was never checked"  # the engine's message for an exercise with no case at all


@dataclass
class Lab:
    """An instructor's lab, loaded once for the whole class."""

    name: str
    path: Path
    source: nbformat.NotebookNode
    released: nbformat.NotebookNode
    exercises: list[str]
    expected: dict[str, list[tuple[dict, bool]]]
    answers: dict[str, dict[str, Any]]
    recomputed: bool = False
    variants: Variants = field(default_factory=Variants)   # the class's learners' own cases (:mod:`.variants`)

    def cases_of(self, learner: str) -> tuple[str | None, dict[str, list[tuple[dict, bool]]]]:
        """The learner id the kernel runs under and the cases to judge: ``learner``'s variant, or the
        public cases when no exercise of the lab varies."""
        if learner in self.variants.cases:
            return learner, self.variants.cases[learner]
        return None, self.expected


@dataclass
class Row:
    student: str
    assignment: str
    notebook: str
    exercise: str
    points: float | None    # None: not graded yet (an nbgrader answer that needs manual grading)
    max_points: float
    status: Status | Outcome
    message: str


@dataclass
class Graded:
    """One submitted notebook, graded."""

    submission: Submission
    rows: list[Row]
    results: list[ExerciseResult] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return round(sum(row.points for row in self.rows if row.points is not None), 4)

    @property
    def max_points(self) -> float:
        return round(sum(row.max_points for row in self.rows), 4)


@dataclass(frozen=True)
class Task:
    """One submitted notebook, read and ready to grade, as plain data: the submission (its names and notes
    are used, no path of it is read), the file's name and its bytes. With its :class:`Lab` (plain data too),
    it is all that :meth:`Grader.grade_task` needs, on this machine or on a cluster's worker."""

    submission: Submission
    filename: str
    data: bytes


def prepare(sub: Submission, lab: Lab | str | None) -> Task | Graded:
    """What the grader's machine does before any kernel runs: the rows of a submission that cannot be
    graded (no source, nothing submitted, not a regular file...) or the notebook's bytes to grade.

    ``lab`` is the loaded lab of ``sub.source``, the reason it cannot be used, or None without a source.
    """
    if sub.source is None and sub.problem is not None:
        return _ungradable(sub, None, *sub.problem)
    if sub.source is None:
        return _ungradable(sub, None, Outcome.NO_SOURCE, f"no instructor source for {sub.notebook or sub.student}")
    if lab is None or isinstance(lab, str):
        return _ungradable(sub, None, Outcome.NO_SOURCE, f"the instructor's source cannot be used: {lab}")
    if sub.path is None:
        return _ungradable(sub, lab, Outcome.MISSING, "nothing was submitted")
    if sub.problem is not None:
        return _ungradable(sub, lab, *sub.problem)
    if sub.path.suffix != ".ipynb":
        return _ungradable(sub, lab, Outcome.NOT_A_NOTEBOOK, f"{sub.path.name} is not a notebook (.ipynb)")
    try:
        data = read_under(sub.root, sub.relative, MAX_NOTEBOOK_BYTES)
    except NotRegular as exc:
        return _ungradable(sub, lab, Outcome.NOT_REGULAR, f"{exc}: not followed, not graded")
    except TooLarge:
        return _ungradable(sub, lab, Outcome.MALFORMED, f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    except OSError:
        return _ungradable(sub, lab, Outcome.NOT_A_NOTEBOOK, f"{sub.path.name} is not a text notebook")
    return Task(sub, sub.path.name, data)


def lab_or_reason(path: Path, *, timeout: float = 600, log: Callable[[str], None] = print) -> Lab | str:
    """The loaded lab (:func:`load_lab`), or the reason it cannot be used."""
    try:
        return load_lab(path, timeout=timeout, log=log)
    except NotebookError as exc:
        return str(exc)


def load_lab(path: Path, *, timeout: float = 600, log: Callable[[str], None] = print) -> Lab:
    """Read a lab's source and its reference answers (recomputed if the solution changed since release)."""
    source = read_notebook(path)
    exercises = [exercise for exercise, _ in lab_exercises(source)]
    unknown = [ex for ex in exercises if ex not in EXERCISES]
    if unknown:
        raise NotebookError(f"{path}: checks unknown exercise(s) {', '.join(unknown)}")
    entries, recomputed = _reference_entries(path, source, timeout, log)
    expected: dict[str, list[tuple[dict, bool]]] = {ex: [] for ex in exercises}
    answers: dict[str, dict[str, Any]] = {ex: {} for ex in exercises}
    for exercise, items in entries.items():
        for item in items:
            if exercise in expected:
                expected[exercise].append((item["case"], bool(item["hidden"])))
                answers[exercise][case_key(item["case"])] = item["value"]
    return Lab(path.stem, path, source, exercise_notebook(source, str(path)), exercises, expected, answers,
               recomputed)


def _reference_entries(path: Path, source, timeout: float, log) -> tuple[dict[str, list[dict]], bool]:
    answers_file = path.parent / "answers" / f"{path.stem}.json"
    if answers_file.exists():
        document = json.loads(answers_file.read_text())
        if document.get("source_sha256") == answers_fingerprint(source):
            return document["exercises"], False
        log(f"note: {answers_file} is stale: it was recorded from another version of {path.name} or of its "
            "exercises' definitions (cases, observe, comparators); recomputing the reference answers "
            "(run `course release` to update it)")
    records = record_reference(source, cwd=path.parent, timeout=timeout, name=str(path))
    return answers_document(path.stem, records, hidden=True)["exercises"], True


class Grader:
    """Grades submissions; one instance per ``course grade`` run (holds labs, sandbox, scratch)."""

    def __init__(self, sandbox: Sandbox, *, timeout: float = 300, keep_scratch: bool = False,
                 public_weight: float | None = None, variants_cache: Path | None = None):
        self.sandbox = sandbox
        self.timeout = timeout
        self.keep_scratch = keep_scratch
        self.public_weight = public_weight
        self.variants_cache = variants_cache if variants_cache is not None else default_variants_cache()
        self.scratch_root = Path(tempfile.mkdtemp(prefix="course-grade-"))  # private to this user (0700)
        self.sandbox.prepare(self.scratch_root / "support")
        self._labs: dict[Path, Lab | str] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def lab(self, path: Path, log=print) -> Lab | str:
        """The loaded lab, or the reason it cannot be used (loaded once, whatever the thread)."""
        with self._lock:
            if path not in self._labs:
                self._labs[path] = lab_or_reason(path, timeout=max(self.timeout, 600), log=log)
            return self._labs[path]

    def load_labs(self, submissions: list[Submission], log=print) -> None:
        """Load the labs of ``submissions`` and the variants of their learners (:mod:`.variants`): the
        reference solution runs once per lab for the learners whose variants are not cached yet."""
        for sub in submissions:
            if sub.source is not None:
                self.lab(sub.source, log=log)
        for path, lab in self._labs.items():
            if not isinstance(lab, Lab) or not varying(lab.exercises):
                continue
            learners = [sub.student for sub in submissions if sub.source == path and sub.path is not None]
            try:
                lab.variants = class_variants(lab.source, lab.expected, learners, cwd=path.parent, name=str(path),
                                              timeout=max(self.timeout, 600), cache=self.variants_cache)
                for exercise, values in lab.variants.answers.items():  # keyed by case: no two variants collide
                    lab.answers.setdefault(exercise, {}).update(values)
            except NotebookError as exc:
                self._labs[path] = f"the learners' variants cannot be computed: {exc}"

    def close(self) -> None:
        if not self.keep_scratch:
            shutil.rmtree(self.scratch_root, ignore_errors=True)

    def grade(self, submission: Submission) -> Graded:
        """Grade one submission; whatever happens, the result is rows, never an exception."""
        start = time.perf_counter()
        lab = None
        try:
            lab = self.lab(submission.source) if submission.source else None
            found = prepare(submission, lab)
        except Exception as exc:  # a grader bug must cost one notebook, not the class
            found = _grader_error(submission, lab, exc)
        graded = self.grade_task(found, lab) if isinstance(found, Task) else found
        graded.seconds = time.perf_counter() - start
        return graded

    def grade_task(self, task: Task, lab: Lab) -> Graded:
        """Grade one notebook already read (:func:`prepare`): parse, assemble, run sandboxed, judge.

        Its inputs are plain data and it reads no file of the grader's, so the local pool
        (:meth:`grade`) and a cluster's workers (:mod:`.cluster`) grade with this same step.
        Whatever happens, the result is rows, never an exception.
        """
        start = time.perf_counter()
        try:
            graded = self._grade(task, lab)
        except Exception as exc:  # a grader bug must cost one notebook, not the class
            graded = _grader_error(task.submission, lab, exc)
        graded.seconds = time.perf_counter() - start
        return graded

    def _grade(self, task: Task, lab: Lab) -> Graded:
        sub = task.submission
        submitted = parse_task(task, lab)
        if isinstance(submitted, Graded):
            return submitted
        assembled = assemble(lab.source, submitted, lab.released)
        if assembled.problem:
            return _ungradable(sub, lab, *assembled.problem)
        notes = [Note(note) for note in sub.notes] + assembled.notes
        kernel = submitted.metadata.get("kernelspec", {}).get("name")
        if kernel not in (None, "python3"):
            notes.append(Note(f"kernel {kernel!r} ignored: graded with Python 3"))
        return self._run(sub, lab, assembled, notes)

    def _run(self, sub: Submission, lab: Lab, assembled: Assembled, notes: list[Note]) -> Graded:
        with self._lock:
            self._counter += 1
            workdir = self.scratch_root / f"{self._counter:05d}"
        workdir.mkdir(mode=0o700)
        learner, expected = lab.cases_of(sub.student)
        try:
            run = run_recorded(assembled.notebook, assembled.exercises, cwd=workdir, timeout=self.timeout,
                               sandbox=self.sandbox, workdir=workdir, learner=learner)
        finally:
            if not self.keep_scratch:
                shutil.rmtree(workdir, ignore_errors=True)
        execution = run.execution
        clean = lambda text: text.replace(str(workdir), "<scratch>").replace(SCRATCH, "<scratch>")
        errors = [CellError(e.index, e.grade_id, e.ename, clean(e.evalue), [clean(line) for line in e.traceback])
                  for e in execution.errors]
        test_cells = {index for _, index in assembled.exercises}
        cell_messages = _cell_messages(errors, test_cells)
        run_message = self._run_message(execution.status, run.stopped_at)
        if run.stopped_at:  # the limit held: say so even where the kernel survived (a child was killed)
            notes.append(Note(run_message))
        if execution.truncated:
            notes.append(Note(f"the notebook printed more than {MAX_OUTPUT_BYTES // 2**20} MB: outputs truncated"))
        copied_answer = (lambda exercise, attempt, position: copied(exercise, attempt, position, learner,
                                                                      lab.variants)) if learner else None
        results = grade_records(assembled.exercises, run.records, lab.answers, cell_messages, run_message,
                                expected=expected, public_weight=self.public_weight, oversized=set(run.oversized),
                                copied=copied_answer)
        rows = []
        for result, (_, cell_index) in zip(results, assembled.exercises):
            status = result.status
            if result.status == ERROR and not result.cases:
                if execution.status in (TIMEOUT, DEAD) and not cell_messages.get(cell_index):
                    status = Status.TIMEOUT if execution.status == TIMEOUT else Outcome.KERNEL_DIED
                    result.message = "" if run.stopped_at else result.message or run_message  # else: in the note
                elif not result.message or result.message == NEVER_RUN:
                    result.message = NOT_RECORDED
            rows.append(_row(sub, result, status, assembled.tampered.get(result.exercise), notes))
        learner_errors = [e for e in errors if e.index not in test_cells]
        return Graded(sub, rows, results, learner_errors, [str(note) for note in notes])

    def _run_message(self, status: str, stopped_at: str) -> str:
        limits = self.sandbox.limits
        if stopped_at == MEMORY:
            return f"the notebook reached its memory limit ({limits.memory_mb} MB for all its processes)"
        if stopped_at == PROCESSES:
            return f"the notebook reached its limit of {limits.processes} processes and threads"
        return {TIMEOUT: f"the notebook was stopped after {self.timeout:g} s (an endless loop?)",
                DEAD: "the kernel died (memory limit, os._exit or a crash)"}.get(status, "")


def _cell_messages(errors: list[CellError], test_cells: set[int]) -> dict[int, str]:
    """``{cell index: "ename: evalue"}``; a test cell's error says which of the learner's cells failed before."""
    messages = {}
    for error in errors:
        message = f"{error.ename}: {error.evalue}".rstrip(": ")
        earlier = [e for e in errors if e.index < error.index and e.index not in test_cells]
        if error.index in test_cells and earlier:  # e.g. a NameError because the solution cell failed
            message += f" (after an error in your cell {earlier[-1].index + 1}: {earlier[-1].ename})"
        messages[error.index] = message
    return messages


def _row(sub: Submission, result: ExerciseResult, status: Status | Outcome, tamper: Note | None,
         notes: list[Note]) -> Row:
    return noted_row(sub, result.exercise, result.points, result.max_points, status, _message(result), tamper, notes)


def noted_row(sub: Submission, exercise: str, points: float | None, max_points: float, status: Status | Outcome,
              message: str, tamper: Note | None, notes: list[Note]) -> Row:
    """A gradebook row whose message carries the notes; with tampering (of this exercise's test, or of the
    whole notebook) its status is ``tampered`` and the message says what it would have been."""
    tampering = [str(note) for note in ([tamper] if tamper else []) + [n for n in notes if n.tampering]]
    if tampering:
        message = f"{status}, graded on the instructor's tests; " + "; ".join(tampering) + (
            f"; {message}" if message else "")
        status = Outcome.TAMPERED
    other = [str(note) for note in notes if not note.tampering]
    if other:
        message = "; ".join(other + ([message] if message else []))
    return Row(sub.student, sub.assignment, sub.notebook, exercise, points, max_points, status, message)


def _message(result: ExerciseResult) -> str:
    if result.message:
        return result.message
    failing = [case for case in result.cases if case.status != "passed"]
    if not failing or result.status == NOT_ATTEMPTED:
        return ""
    first = failing[0]
    more = f" (+{len(failing) - 1} more case{'s' if len(failing) > 2 else ''})" if len(failing) > 1 else ""
    return f"{first.label}: {first.message or first.status}{more}"


def parse_task(task: Task, lab) -> nbformat.NotebookNode | Graded:
    """The submitted notebook of ``task``, or the rows saying why it cannot be read."""
    try:
        return parse_notebook(task.data.decode("utf-8"), task.filename)
    except UnicodeDecodeError:
        return _ungradable(task.submission, lab, Outcome.NOT_A_NOTEBOOK, f"{task.filename} is not a text notebook")
    except NotebookError as exc:
        return _ungradable(task.submission, lab, Outcome.MALFORMED, str(exc).split(": ", 1)[-1])


def _ungradable(sub: Submission, lab, status: Outcome, message: str) -> Graded:
    if lab is not None and not isinstance(lab, Lab):  # another kind of source (an nbgrader notebook) says its rows
        return lab.ungradable(sub, status, message)
    message = "; ".join([*sub.notes, message])
    if lab is None:
        return Graded(sub, [Row(sub.student, sub.assignment, sub.notebook, "", 0.0, 0.0, status, message)],
                      notes=list(sub.notes))
    rows = [Row(sub.student, sub.assignment, sub.notebook, exercise, 0.0, float(EXERCISES[exercise].points),
                status, message) for exercise in lab.exercises]
    return Graded(sub, rows, notes=list(sub.notes))


def _grader_error(sub: Submission, lab: Lab | str | None, exc: Exception) -> Graded:
    return _ungradable(sub, lab if isinstance(lab, Lab) else None, Outcome.GRADER_ERROR,
                       f"{type(exc).__name__}: {exc}".splitlines()[0])


def grade_all(grader: Grader, submissions: list[Submission], workers: int,
              on_done: Callable[[Graded, int, int], None] = lambda graded, done, total: None) -> list[Graded]:
    """Grade every submission with ``workers`` kernels at a time; results in submission order."""
    results: list[Graded | None] = [None] * len(submissions)
    grader.load_labs(submissions)  # each lab once, with its learners' variants, before the workers start
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(grader.grade, sub): i for i, sub in enumerate(submissions)}
        done = 0
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            done += 1
            on_done(results[index], done, len(submissions))
    return [r for r in results if r is not None]
