"""``solutions/`` -> ``exercises/`` and the reference answers.

For every lab ``solutions/NN_topic.ipynb`` (nbgrader markup), ``course release``

1. validates the nbgrader metadata and that each test cell's points are its
   exercise's points;
2. runs the reference solution headless in record mode, and writes what it
   returned on every case to ``solutions/answers/NN_topic.json`` (public and
   hidden cases) and ``course_utils/checks/answers/NN_topic.json`` (public
   cases only, shipped with the package);
3. writes the learner version ``exercises/NN_topic.ipynb``: each solution
   region becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()``,
   hidden tests are removed, outputs cleared, nbgrader metadata kept.

It never overwrites an exercise notebook that someone has edited. The
markup itself (solution regions, hidden tests) is read by
:mod:`course_utils.grading.markup`, which the grader shares.

Example::

    release(Path("."), check=True)   # [] when exercises/ and the answers are up to date
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_utils.checks.answers import answers_document, dump_answers
from course_utils.checks.compare import close
from course_utils.checks.registry import EXERCISES
from course_utils.checks.values import from_plain
from course_utils.grading.markup import CHECK_CALL, MarkupError, exercise_notebook
from course_utils.grading.runner import answers_fingerprint, record_reference
from course_utils.notebooks import NotebookError, cells_digest, notebook_text, read_notebook


class ReleaseError(Exception):
    """A lab that cannot be released; the message says which file and why."""


def validate_lab(nb: nbformat.NotebookNode, name: str) -> None:
    """nbgrader's own metadata rules, plus: each test cell checks one exercise worth its points."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        raise ReleaseError(f"{name}: invalid nbgrader metadata: {exc}") from None
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        ids = sorted(set(CHECK_CALL.findall(cell.source)))
        if len(ids) != 1:
            raise ReleaseError(f"{name}: test cell {meta['grade_id']!r} must check exactly one exercise, "
                               f"found {ids or 'none'}")
        exercise = EXERCISES.get(ids[0])
        if exercise is None:
            raise ReleaseError(f"{name}: test cell {meta['grade_id']!r} checks unknown exercise {ids[0]!r}")
        if float(meta["points"]) != float(exercise.points):
            raise ReleaseError(f"{name}: test cell {meta['grade_id']!r} is worth {meta['points']} points "
                               f"but {exercise.id} is worth {exercise.points}")


@dataclass
class LabFiles:
    """What release produces for one lab: {path: text}."""

    lab: str
    files: dict[Path, str]


def build_lab(solution_path: Path, root: Path, *, timeout: float = 600) -> LabFiles:
    """Validate and run one reference solution; return the files it releases."""
    name = str(solution_path.relative_to(root)) if solution_path.is_relative_to(root) else str(solution_path)
    try:
        nb = read_notebook(solution_path)
    except NotebookError as exc:
        raise ReleaseError(str(exc)) from None
    validate_lab(nb, name)
    try:
        learner = exercise_notebook(nb, name)
        records = record_reference(nb, cwd=solution_path.parent, timeout=timeout, name=name)
    except MarkupError as exc:
        raise ReleaseError(f"{name}: {exc}") from None
    except NotebookError as exc:
        raise ReleaseError(str(exc)) from None

    lab, fingerprint = solution_path.stem, answers_fingerprint(nb)
    files = {
        root / "exercises" / f"{lab}.ipynb": notebook_text(learner),
        root / "solutions" / "answers" / f"{lab}.json":
            dump_answers(answers_document(lab, records, hidden=True, source=fingerprint)),
    }
    if (root / "course_utils" / "checks").is_dir():  # the package's public copy, when it lives here
        files[root / "course_utils" / "checks" / "answers" / f"{lab}.json"] = \
            dump_answers(answers_document(lab, records, hidden=False, source=fingerprint))
    return LabFiles(lab, files)


def same_content(path: Path, new_text: str) -> bool:
    """Is the file on disk what release would write? Answer files compare numbers within 1e-6."""
    if not path.exists():
        return False
    old_text = path.read_text(encoding="utf-8")
    if old_text == new_text or path.suffix != ".json":
        return old_text == new_text
    try:
        old, new = json.loads(old_text), json.loads(new_text)
    except json.JSONDecodeError:
        return False
    return close(rtol=1e-6, atol=1e-12)(from_plain(old), from_plain(new)).ok


def edited_by_someone(path: Path) -> bool:
    """An exercise notebook whose cells no longer match the fingerprint release wrote."""
    try:
        nb = read_notebook(path)
    except NotebookError:
        return True
    recorded = nb.metadata.get("course", {}).get("cells_sha256")
    return recorded != cells_digest(nb)


def release(root: Path, *, labs: list[Path] | None = None, check: bool = False, force: bool = False,
            timeout: float = 600, log=print) -> list[str]:
    """Release the labs of ``root/solutions`` (all, or only ``labs``); return the problems found.

    With ``check=True`` nothing is written: the problems are the files that
    are out of date. An empty list means all is well.
    """
    every_lab = sorted((root / "solutions").glob("*.ipynb"))
    solutions = every_lab if not labs else [Path(lab).resolve() for lab in labs]
    for solution in solutions:
        if solution.parent != (root / "solutions").resolve() or not solution.exists():
            raise ReleaseError(f"{solution}: not a lab in {root / 'solutions'}")
    if not solutions:
        raise ReleaseError(f"{root / 'solutions'}: no lab notebooks to release")
    problems: list[str] = []
    for solution in solutions:
        started = time.perf_counter()
        built = build_lab(solution, root, timeout=timeout)
        for path, text in built.files.items():
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            if same_content(path, text):
                continue
            if check:
                problems.append(f"{shown} is out of date: run `course release`")
            elif path.suffix == ".ipynb" and path.exists() and edited_by_someone(path) and not force:
                problems.append(f"{shown} has been edited since it was generated; left untouched "
                                "(move it away, or use --force to overwrite it)")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                log(f"wrote {shown}")
        log(f"{built.lab}: {'checked' if check else 'released'} in {time.perf_counter() - started:.1f} s")
    sources = {s.stem for s in every_lab}
    for orphan in sorted((root / "exercises").glob("*.ipynb")):
        if orphan.stem not in sources:
            problems.append(f"exercises/{orphan.name} has no source in solutions/")
    return problems
