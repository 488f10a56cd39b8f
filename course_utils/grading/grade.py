"""``course grade``: a whole class, in parallel, each notebook in its own sandboxed kernel.

For each submission: the notebook that runs is the learner's code with the
instructor's test and locked cells (:mod:`.assemble`); it runs in a fresh
kernel, sandboxed, with a time and a memory limit (:mod:`.sandbox`); its test
cells only *record* the learner's answers; and the answers are judged here,
in the grader's process, against the reference answers of the instructor's
solution. Nothing a submission does can touch another one, or the files
under the submission folder.
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

from course_utils.checks.answers import RECORD_ENV, read_records
from course_utils.checks.engine import ERROR, ExerciseResult, case_key
from course_utils.checks.registry import EXERCISES
from course_utils.grading.assemble import assemble
from course_utils.grading.collect import Submission
from course_utils.grading.lab import CHECK_CALL, grade_records
from course_utils.grading.sandbox import Sandbox, build_matplotlib_cache
from course_utils.notebooks import (DEAD, TIMEOUT, CellError, NotebookError, cells_digest, execute_notebook,
                                    parse_notebook, read_notebook)
from course_utils.release import exercise_notebook

MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_RECORD_BYTES = 20 * 2**20
NOT_GRADABLE = ("no source", "missing", "not a notebook", "malformed notebook", "empty notebook",
                "no graded cells", "wrong notebook")


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


@dataclass
class Row:
    student: str
    assignment: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
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
        return round(sum(row.points for row in self.rows), 4)

    @property
    def max_points(self) -> float:
        return round(sum(row.max_points for row in self.rows), 4)


def load_lab(path: Path, *, timeout: float = 600, log: Callable[[str], None] = print) -> Lab:
    """Read a lab's source and its reference answers (recomputed if the solution changed since release)."""
    source = read_notebook(path)
    exercises = [ex for cell in source.cells if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
                 for ex in CHECK_CALL.findall(cell.source)]
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
        if document.get("source_sha256") == cells_digest(source):
            return document["exercises"], False
        log(f"note: {answers_file} is older than {path.name}; recomputing the reference answers")
    with tempfile.TemporaryDirectory(prefix="course-reference-") as scratch:
        record = Path(scratch) / "records.jsonl"
        run = execute_notebook(source, cwd=path.parent, timeout=timeout, env={RECORD_ENV: str(record)})
        records = read_records(record)
    if run.status != "ok" or any(r["status"] != "ok" for r in records):
        raise NotebookError(f"{path}: the reference solution does not run cleanly ({run.summary()})")
    entries: dict[str, list[dict]] = {}
    for r in records:
        entries.setdefault(r["exercise"], []).append({"case": r["case"], "hidden": r["hidden"], "value": r["value"]})
    return entries, True


class Grader:
    """Grades submissions; one instance per ``course grade`` run (holds labs, sandbox, scratch)."""

    def __init__(self, sandbox: Sandbox, *, timeout: float = 300, keep_scratch: bool = False):
        self.sandbox = sandbox
        self.timeout = timeout
        self.keep_scratch = keep_scratch
        self.scratch_root = Path(tempfile.mkdtemp(prefix="course-grade-"))
        self.mpl_cache = build_matplotlib_cache(self.scratch_root / ".mplcache")
        self.sandbox.hidden_paths = [self.scratch_root, *self.sandbox.hidden_paths]
        self._labs: dict[Path, Lab | str] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def lab(self, path: Path, log=print) -> Lab | str:
        """The loaded lab, or the reason it cannot be used (loaded once, whatever the thread)."""
        with self._lock:
            if path not in self._labs:
                try:
                    self._labs[path] = load_lab(path, timeout=max(self.timeout, 600), log=log)
                except NotebookError as exc:
                    self._labs[path] = str(exc)
            return self._labs[path]

    def close(self) -> None:
        if not self.keep_scratch:
            shutil.rmtree(self.scratch_root, ignore_errors=True)

    def grade(self, submission: Submission) -> Graded:
        """Grade one submission; whatever happens, the result is rows, never an exception."""
        start = time.perf_counter()
        try:
            graded = self._grade(submission)
        except Exception as exc:  # a grader bug must cost one notebook, not the class
            lab = self.lab(submission.source) if submission.source else None
            graded = _ungradable(submission, lab if isinstance(lab, Lab) else None, "grader error",
                                 f"{type(exc).__name__}: {exc}".splitlines()[0])
        graded.seconds = time.perf_counter() - start
        return graded

    def _grade(self, sub: Submission) -> Graded:
        if sub.source is None:
            return _ungradable(sub, None, "no source", f"no instructor source for {sub.notebook}.ipynb")
        lab = self.lab(sub.source)
        if isinstance(lab, str):
            return _ungradable(sub, None, "no source", f"the instructor's source cannot be used: {lab}")
        if sub.path is None:
            return _ungradable(sub, lab, "missing", "nothing was submitted")
        if sub.path.suffix != ".ipynb":
            return _ungradable(sub, lab, "not a notebook", f"{sub.path.name} is not a notebook (.ipynb)")
        try:
            if sub.path.stat().st_size > MAX_NOTEBOOK_BYTES:
                return _ungradable(sub, lab, "malformed notebook", "the file is larger than 50 MB")
            text = sub.path.read_bytes().decode("utf-8")
            submitted = parse_notebook(text, sub.path.name)
        except (UnicodeDecodeError, OSError):
            return _ungradable(sub, lab, "not a notebook", f"{sub.path.name} is not a text notebook")
        except NotebookError as exc:
            return _ungradable(sub, lab, "malformed notebook", str(exc).split(": ", 1)[-1])
        assembled = assemble(lab.source, submitted, lab.released)
        if assembled.problem:
            return _ungradable(sub, lab, assembled.problem.split(":")[0], assembled.problem.split(": ", 1)[-1])
        notes = ([sub.note] if sub.note else []) + assembled.notes
        kernel = submitted.metadata.get("kernelspec", {}).get("name")
        if kernel not in (None, "python3"):
            notes.append(f"kernel {kernel!r} ignored: graded with Python 3")
        return self._run(sub, lab, assembled, notes)

    def _run(self, sub: Submission, lab: Lab, assembled, notes: list[str]) -> Graded:
        with self._lock:
            self._counter += 1
            scratch = self.scratch_root / f"{self._counter:05d}"
        self.sandbox.prepare_scratch(scratch, self.mpl_cache)
        record = scratch / "records.jsonl"
        launch, inner = self.sandbox.launch(scratch, {RECORD_ENV: str(record)})
        windows: dict[int, list[int]] = {}
        test_cells = {index for _, index in assembled.exercises}

        def size() -> int:
            return record.stat().st_size if record.exists() else 0

        def on_execute(cell=None, cell_index=None, **_):
            if cell_index in test_cells:
                windows[cell_index] = [size(), -1]

        def on_executed(cell=None, cell_index=None, **_):
            if cell_index in windows:
                windows[cell_index][1] = size()

        try:
            execution = execute_notebook(assembled.notebook, cwd=scratch, timeout=self.timeout, launch=launch,
                                         allow_errors=True, hooks={"on_cell_execute": on_execute,
                                                                   "on_cell_executed": on_executed})
            records = _records_in_windows(record, windows, assembled.exercises)
        finally:
            if not self.keep_scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        clean = lambda text: text.replace(str(scratch), "<scratch>").replace(inner, "<scratch>")
        errors = [CellError(e.index, e.grade_id, e.ename, clean(e.evalue), [clean(line) for line in e.traceback])
                  for e in execution.errors]
        cell_messages = {}
        for error in errors:
            message = f"{error.ename}: {error.evalue}".rstrip(": ")
            earlier = [e for e in errors if e.index < error.index and e.index not in test_cells]
            if error.index in test_cells and earlier:  # e.g. a NameError because the solution cell failed
                message += f" (after an error in your cell {earlier[-1].index + 1}: {earlier[-1].ename})"
            cell_messages[error.index] = message
        run_message = {TIMEOUT: f"the notebook was stopped after {self.timeout:g} s (an endless loop?)",
                       DEAD: "the kernel died (memory limit, os._exit or a crash)"}.get(execution.status, "")
        results = grade_records(assembled.exercises, records, lab.answers, cell_messages, run_message,
                                expected=lab.expected)
        for result in results:
            if result.status == ERROR and not result.cases:
                if execution.status in (TIMEOUT, DEAD) and not cell_messages.get(_test_cell(assembled, result)):
                    result.status = execution.status
                elif not result.message or result.message == "this exercise was never checked":
                    result.message = "no answer was recorded: was check() replaced or the test cell skipped?"
        rows = [_row(sub, result, assembled.tampered.get(result.exercise, ""), notes) for result in results]
        learner_errors = [e for e in errors if e.index not in test_cells]
        return Graded(sub, rows, results, learner_errors, notes)


def _test_cell(assembled, result) -> int:
    return next((index for exercise, index in assembled.exercises if exercise == result.exercise), -1)


def _records_in_windows(path: Path, windows: dict[int, list[int]], exercises: list[tuple[str, int]]) -> list[dict]:
    """The records written while each test cell ran, for that cell's exercise only.

    A record written at any other time (by the learner's own cells, a thread
    they started...) is not an answer to a test and is ignored.
    """
    if not path.exists():
        return []
    exercise_of = {index: exercise for exercise, index in exercises}
    total = path.stat().st_size
    records = []
    with open(path, "rb") as stream:
        for index, (start, end) in sorted(windows.items()):
            end = total if end < 0 else end
            if end <= start or end - start > MAX_RECORD_BYTES:
                continue
            stream.seek(start)
            for line in stream.read(end - start).decode("utf-8", "replace").splitlines():
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    continue
                if isinstance(record, dict) and record.get("exercise") == exercise_of.get(index):
                    records.append(record)
    return records


def _row(sub: Submission, result: ExerciseResult, tampered: str, notes: list[str]) -> Row:
    message = _message(result)
    status = result.status
    tampering = [tampered] if tampered else []
    tampering += [n for n in notes if "deleted" in n or "moved" in n or "edited" in n or "duplicated" in n]
    if tampering:
        message = f"{status}, graded on the instructor's tests; " + "; ".join(tampering) + (
            f"; {message}" if message else "")
        status = "tampered"
    other = [n for n in notes if n not in tampering]
    if other:
        message = "; ".join(other + ([message] if message else []))
    return Row(sub.student, sub.assignment, sub.notebook, result.exercise, result.points, result.max_points,
               status, message)


def _message(result: ExerciseResult) -> str:
    if result.message:
        return result.message
    failing = [case for case in result.cases if case.status != "passed"]
    if not failing or result.status == "not attempted":
        return ""
    first = failing[0]
    more = f" (+{len(failing) - 1} more case{'s' if len(failing) > 2 else ''})" if len(failing) > 1 else ""
    return f"{first.label}: {first.message or first.status}{more}"


def _ungradable(sub: Submission, lab: Lab | None, status: str, message: str) -> Graded:
    if lab is None:
        return Graded(sub, [Row(sub.student, sub.assignment, sub.notebook, "", 0.0, 0.0, status, message)])
    rows = [Row(sub.student, sub.assignment, sub.notebook, exercise, 0.0, float(EXERCISES[exercise].points),
                status, message) for exercise in lab.exercises]
    return Graded(sub, rows)


def grade_all(grader: Grader, submissions: list[Submission], workers: int,
              on_done: Callable[[Graded, int, int], None] = lambda graded, done, total: None) -> list[Graded]:
    """Grade every submission with ``workers`` kernels at a time; results in submission order."""
    results: list[Graded | None] = [None] * len(submissions)
    for sub in submissions:  # load each lab once, before the workers start
        if sub.source is not None:
            grader.lab(sub.source)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(grader.grade, sub): i for i, sub in enumerate(submissions)}
        done = 0
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            done += 1
            on_done(results[index], done, len(submissions))
    return [r for r in results if r is not None]


