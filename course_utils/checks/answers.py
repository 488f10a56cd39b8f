"""Reference answers and grading records.

Nobody types an expected value: ``course release`` runs each reference
solution in *record mode* and writes what it returned on every case:

* ``solutions/answers/<lab>.json`` -- public and hidden cases (instructor side);
* ``course_utils/checks/answers/<lab>.json`` -- public cases only, shipped with
  the package so that ``check`` answers instantly in a learner's notebook.

Record mode is the grading hook: when the environment variable
``COURSE_RECORD`` is set, ``check`` sends one JSON line per case (the
learner's plain answer, or the error) instead of comparing, and the grader
compares the records in its own process. The grader sets it to ``fd:N``: the
write end of a pipe that the grader reads while the kernel runs
(:mod:`course_utils.grading.channel`), so a record cannot be rewritten or
redirected once sent. A file path also works (records are appended), for tools
and tests.

"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .engine import Attempt, case_key

RECORD_ENV = "COURSE_RECORD"
RECORD_FD = "fd:"          # $COURSE_RECORD = "fd:N": records go to the inherited file descriptor N
MAX_RECORD_BYTES = 2**20   # one record line; a longer one is not read
SOLUTIONS_ENV = "COURSE_SOLUTIONS"
PACKAGE_ANSWERS = Path(__file__).resolve().parent / "answers"


def solutions_dir() -> Path | None:
    """The instructor's ``solutions/`` folder: ``$COURSE_SOLUTIONS``, else the one beside the package."""
    configured = os.environ.get(SOLUTIONS_ENV)
    if configured:
        return Path(configured)
    candidate = Path(__file__).resolve().parents[2] / "solutions"
    return candidate if candidate.is_dir() else None


def answer_files(include_hidden: bool) -> list[Path]:
    """The answer files to look in: the package's, then (for hidden cases) the instructor's."""
    files = sorted(PACKAGE_ANSWERS.glob("*.json"))
    folder = solutions_dir()
    if include_hidden and folder is not None:
        files += sorted((folder / "answers").glob("*.json"))
    return files


def load_answers(include_hidden: bool = False) -> dict[str, dict[str, Any]]:
    """``{exercise id: {case key: plain reference value}}`` from every answer file."""
    merged: dict[str, dict[str, Any]] = {}
    for path in answer_files(include_hidden):
        for exercise, cases in _read_answer_file(str(path), path.stat().st_mtime_ns).items():
            merged.setdefault(exercise, {}).update(cases)
    return merged


@lru_cache(maxsize=64)
def _read_answer_file(path: str, mtime: int) -> dict[str, dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    return {
        exercise: {case_key(entry["case"]): entry["value"] for entry in entries}
        for exercise, entries in data["exercises"].items()
    }


def answers_document(lab: str, records: Iterable[dict], *, hidden: bool, source: str = "") -> dict:
    """The content of an answer file for ``lab`` built from a reference run's records.

    With ``hidden=False`` only public cases are kept (the package's copy).
    ``source`` is the fingerprint of what the answers come from (the solution's
    cells and the exercises' definitions:
    :func:`course_utils.grading.runner.answers_fingerprint`): the grader
    recomputes answers whose solution or exercises have changed since.
    """
    exercises: dict[str, list[dict]] = {}
    for record in records:
        if record["hidden"] and not hidden:
            continue
        exercises.setdefault(record["exercise"], []).append(
            {"case": record["case"], "hidden": record["hidden"], "value": record["value"]})
    return {
        "lab": lab,
        "generated_by": "course release -- do not edit; regenerate from solutions/",
        "source_sha256": source,
        "exercises": exercises,
    }


def dump_answers(document: dict) -> str:
    """An answer file's text: one line per case, so that a diff shows which answers changed."""
    compact = lambda value: json.dumps(value, sort_keys=True, ensure_ascii=False)
    lines = ["{", f' "lab": {compact(document["lab"])},', f' "generated_by": {compact(document["generated_by"])},',
             f' "source_sha256": {compact(document.get("source_sha256", ""))},', ' "exercises": {']
    exercises = sorted(document["exercises"].items())
    for i, (exercise, entries) in enumerate(exercises):
        lines.append(f"  {compact(exercise)}: [")
        lines += [f"   {compact(entry)}{',' if j < len(entries) - 1 else ''}" for j, entry in enumerate(entries)]
        lines.append("  ]" + ("," if i < len(exercises) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def write_record(target: str, exercise: str, case: dict, hidden: bool, result: Attempt) -> None:
    """Send one case's attempt to the grader (record mode); ``target`` is ``$COURSE_RECORD``.

    ``fd:N`` writes the line to the inherited file descriptor ``N`` (the grader's pipe), in full;
    anything else is a file path the line is appended to.
    """
    line = (json.dumps({"exercise": exercise, "case": case, "hidden": hidden, **asdict(result)},
                       allow_nan=True) + "\n").encode("utf-8")
    if target.startswith(RECORD_FD):
        view = memoryview(line)
        while view:
            view = view[os.write(int(target[len(RECORD_FD):]), view):]
        return
    with open(target, "ab") as stream:
        stream.write(line)


def parse_record(line: bytes) -> dict | None:
    """One record line as a dict, or ``None`` if it is not a record (or longer than ``MAX_RECORD_BYTES``).

    Everything in it came from a learner's kernel: only its shape is checked here, its values are
    judged by the engine.

    >>> parse_record(b'{"exercise": "demo.f", "case": {"x": 1}, "hidden": false, "status": "ok", "value": 2}')["value"]
    2
    >>> parse_record(b'[' * 100_000) is None, parse_record(b'{"exercise": 1}') is None
    (True, True)
    """
    if len(line) > MAX_RECORD_BYTES:
        return None
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if (not isinstance(record, dict) or not {"exercise", "case", "hidden", "status"} <= set(record)
            or not isinstance(record["exercise"], str) or not isinstance(record["case"], dict)):
        return None
    return record


def read_records(path: str | Path) -> list[dict]:
    """The records of a record file (for tools and tests: the grader reads its pipe, never a file)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return [record for record in map(parse_record, data.splitlines()) if record is not None]
