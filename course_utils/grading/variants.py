"""A variant per learner: each learner's cases, and their reference answers computed here from the solution.

An exercise that ``varies`` (:func:`course_utils.checks.engine.vary`) draws its
case seeds from the learner id: two learners get different data and different
hidden cases. The grader knows each submission's learner (the student folder's
name), so it

1. runs the instructor's solution *once* for the whole class, every test cell of
   a varying exercise once per learner (``COURSE_LEARNER`` set in turn), outside
   any learner's kernel, and keeps the records as that lab's extra reference
   answers (cached per lab version and learner, so grading again costs nothing);
2. grades each submission on its own learner's cases (the kernel runs with that
   ``COURSE_LEARNER``);
3. names an answer that is *another* learner's reference answer, and wrong for
   its own variant: copied, not computed (:func:`copied`).

Example::

    variants = class_variants(lab, ["ada", "bob", "cy"], cache=Path("~/.cache/course/variants"))
    variants.cases["ada"]["val.choose_k"]     # [(case, hidden), ...] of ada's variant
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from course_utils.checks.compare import close
from course_utils.checks.engine import LEARNER_ENV, OK, Attempt, Exercise, case_key, vary
from course_utils.checks.values import from_plain
from course_utils.checks.registry import EXERCISES
from course_utils.grading.markup import lab_exercises
from course_utils.grading.runner import answers_fingerprint, record_reference

#: what a case says when the answer belongs to another learner's variant
COPIED = ("this answer belongs to another learner's variant, not to yours: your cases use your own data, "
          "so compute the answer from them")


@dataclass
class Variants:
    """The varied cases of every learner of a lab, and the reference answers of all of them."""

    cases: dict[str, dict[str, list[tuple[dict, bool]]]] = field(default_factory=dict)  # learner -> ex -> cases
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)                    # ex -> case key -> value


def default_variants_cache() -> Path:
    """Where the variants' reference answers are kept between runs: ``$XDG_CACHE_HOME/course/variants``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "course" / "variants"


def varying(exercise_ids) -> list[str]:
    """The exercises among ``exercise_ids`` whose cases vary per learner.

    >>> varying(["start.accuracy"])
    []
    """
    return [ex for ex in exercise_ids if ex in EXERCISES and EXERCISES[ex].varies]


def learner_cases(expected: dict[str, list[tuple[dict, bool]]], learner: str,
                  registry: dict[str, Exercise] = EXERCISES) -> dict[str, list[tuple[dict, bool]]]:
    """``expected`` (the public variant's cases per exercise) as ``learner``'s variant."""
    return {ex: [(vary(registry[ex], case, learner), hidden) if ex in registry else (case, hidden)
                 for case, hidden in cases] for ex, cases in expected.items()}


def class_variants(source: nbformat.NotebookNode, expected: dict[str, list[tuple[dict, bool]]], learners,
                   *, cwd: Path, name: str, timeout: float, cache: Path | None = None) -> Variants:
    """The variants of ``learners`` for the lab ``source``: their cases, and reference answers computed by
    one run of the solution (learners already in ``cache`` are not run again).

    Raises :class:`course_utils.notebooks.NotebookError` when the solution cannot give them.
    """
    learners = sorted({str(learner) for learner in learners if learner})
    varied = varying(expected)
    result = Variants()
    if not varied or not learners:
        return result
    for learner in learners:
        result.cases[learner] = learner_cases(expected, learner)
    folder = _cache_folder(cache, source, name)
    missing = []
    for learner in learners:
        stored = _read_cache(folder, learner)
        if stored is None:
            missing.append(learner)
        else:
            _merge(result.answers, stored)
    if missing:
        records = record_reference(looped(source, varied, missing), cwd=cwd, timeout=timeout, name=name)
        computed: dict[str, dict[str, Any]] = {}
        for record in records:
            if record["exercise"] in varied:
                computed.setdefault(record["exercise"], {})[case_key(record["case"])] = record["value"]
        _merge(result.answers, computed)
        for learner in missing:
            mine = {ex: {case_key(case): computed.get(ex, {}).get(case_key(case))
                         for case, _ in result.cases[learner][ex]} for ex in varied}
            if all(value is not None for answers in mine.values() for value in answers.values()):
                _write_cache(folder, learner, mine)
    return result


def looped(source: nbformat.NotebookNode, varied: list[str], learners: list[str]) -> nbformat.NotebookNode:
    """The solution with each test cell of a varying exercise run once per learner, in turn (the cell's
    own source stays as it is, for the first learner, so that it is still found as that exercise's test).

    >>> test_cell = nbformat.v4.new_code_cell('check("demo.k", k)', metadata={"nbgrader": {"grade": True}})
    >>> nb = nbformat.v4.new_notebook(cells=[test_cell])
    >>> print(looped(nb, ["demo.k"], ["ada", "bob"]).cells[0].source)  # doctest: +NORMALIZE_WHITESPACE
    import os as _course_os
    _course_os.environ['COURSE_LEARNER'] = 'ada'
    check("demo.k", k)
    for _course_learner in ['bob']:
        _course_os.environ['COURSE_LEARNER'] = _course_learner
        exec(compile('check("demo.k", k)', '<test cell>', 'exec'))
    _course_os.environ.pop('COURSE_LEARNER', None)
    """
    nb = copy.deepcopy(source)
    for exercise, index in lab_exercises(nb):
        if exercise not in varied:
            continue
        cell = nb.cells[index]
        cell.source = "\n".join([
            "import os as _course_os",
            f"_course_os.environ[{LEARNER_ENV!r}] = {learners[0]!r}",
            cell.source,
            f"for _course_learner in {learners[1:]!r}:",
            f"    _course_os.environ[{LEARNER_ENV!r}] = _course_learner",
            f"    exec(compile({cell.source!r}, '<test cell>', 'exec'))",
            f"_course_os.environ.pop({LEARNER_ENV!r}, None)",
        ])
    return nb


def copied(exercise: Exercise, attempt: Attempt, position: int, learner: str, variants: Variants) -> bool:
    """Is ``attempt`` (wrong for ``learner``'s case at ``position``) another learner's reference answer?

    Judged on the whole answer, or part by part for an exercise with ``parts`` (a decision copied with a
    protocol of one's own). Said only when the answer (or a part that is wrong for ``learner``) is one
    other learner's reference value itself, within float noise, and the class's references of it are
    nearly all different: a choice out of a short list (a learning rate out of five) is the reference of
    many variants, and an honest mistake must never read as a copy.
    """
    if attempt.status != OK:
        return False
    try:
        got = from_plain(attempt.value)
    except Exception:  # a forged record: judged wrong elsewhere, never a copy
        return False
    references = {}
    for other, cases in variants.cases.items():
        if position < len(cases.get(exercise.id, ())):
            case, _ = cases[exercise.id][position]
            want = variants.answers.get(exercise.id, {}).get(case_key(case))
            if want is not None:
                references[other] = from_plain(want)
    if learner not in references or len(references) < 3:
        return False
    parts = exercise.parts if isinstance(got, dict) and all(isinstance(r, dict) for r in references.values()) else ()
    pieces = [(lambda value, part=part: value.get(part)) for part in parts] or [lambda value: value]
    for piece in pieces:
        mine = piece(got)
        if _same(mine, piece(references[learner])):
            continue  # this part is right: nothing copied here
        values = [piece(reference) for reference in references.values()]
        distinct = sum(not any(_same(v, w) for w in values[:i]) for i, v in enumerate(values))
        holders = [other for other, reference in references.items() if _same(mine, piece(reference))]
        if len(holders) == 1 and distinct >= 0.9 * len(values):
            return True
    return False


def _same(got: Any, want: Any) -> bool:
    try:
        return close(rtol=1e-9, atol=1e-12)(got, want).ok
    except Exception:
        return False


def _cache_folder(cache: Path | None, source: nbformat.NotebookNode, name: str) -> Path | None:
    if cache is None:
        return None
    return Path(cache) / f"{Path(name).stem}-{answers_fingerprint(source)[:20]}"


def _read_cache(folder: Path | None, learner: str) -> dict | None:
    if folder is None:
        return None
    try:
        return json.loads((folder / f"{_learner_file(learner)}.json").read_text())
    except (OSError, ValueError):
        return None


def _write_cache(folder: Path | None, learner: str, answers: dict) -> None:
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{_learner_file(learner)}.json"
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_text(json.dumps(answers, sort_keys=True))
        os.replace(partial, target)
    except OSError:  # a cache that cannot be written costs time next run, nothing else
        pass


def _learner_file(learner: str) -> str:
    """A file name for a learner id (which came from a folder name: never used as a path)."""
    return hashlib.sha256(learner.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _merge(into: dict[str, dict[str, Any]], answers: dict[str, dict[str, Any]]) -> None:
    for exercise, values in answers.items():
        into.setdefault(exercise, {}).update(values)
