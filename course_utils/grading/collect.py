"""Find the submissions in a folder and the instructor's source of each.

Two layouts are understood:

* nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``;
* a plain ``<student>/<notebook>.ipynb`` (the assignment is the notebook's name).

The source of a notebook is ``<sources>/<notebook>.ipynb`` or
``<sources>/<assignment>/<notebook>.ipynb`` (nbgrader's ``source/`` folder).
A submitted notebook whose name matches no source, in an assignment that has
exactly one source notebook, is graded against that one (browsers like to save
``03_initialization (1).ipynb``).

Nothing under the submissions folder is trusted: links are never followed
(a student's folder, an assignment's folder or a notebook that is a symbolic
link, a FIFO or a device is listed as such, to be graded "not a regular
file"), and a name that cannot be used as it is (a control character, an
invisible formatting character, bytes that are not UTF-8) is shown escaped,
with a note (:mod:`.files`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading.files import WHAT, kind_of, name_problem, shown_name
from course_utils.grading.outcome import Outcome


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    notebook: str          # the name it is reported under (the source's name when known)
    path: Path | None      # None: nothing was submitted for an expected notebook
    source: Path | None    # None: no instructor source matches
    notes: tuple[str, ...] = ()                  # e.g. "submitted as '03_initialization (1).ipynb'"
    problem: tuple[Outcome, str] | None = None   # graded 0 without being read (e.g. a symbolic link)
    root: Path | None = None                     # the submissions folder, ``path`` is read below it

    @property
    def relative(self) -> Path:
        """``path`` below the submissions folder (read from there, following no link)."""
        return self.path.relative_to(self.root) if self.root is not None else Path(self.path.name)


def find_sources(sources: Path) -> dict[str, Path]:
    """``{notebook name: source path}`` for ``<sources>/*.ipynb`` and ``<sources>/*/*.ipynb``."""
    found: dict[str, Path] = {}
    for path in sorted(sources.glob("*.ipynb")) + sorted(sources.glob("*/*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts:
            found.setdefault(path.stem, path)
    return found


def _assignment_sources(sources: Path, assignment: str, all_sources: dict[str, Path]) -> dict[str, Path]:
    folder = sources / assignment
    if folder.is_dir():
        return {p.stem: p for p in sorted(folder.glob("*.ipynb"))}
    return {assignment: all_sources[assignment]} if assignment in all_sources else {}


def collect(submitted: Path, sources: Path) -> tuple[list[Submission], list[str]]:
    """Every submission under ``submitted`` with its source, and warnings about what was ignored."""
    all_sources = find_sources(sources)
    submissions: list[Submission] = []
    warnings: list[str] = []
    for entry in _entries(submitted):
        student, notes = _named(entry.name, "student folder", warnings)
        kind = kind_of(Path(entry.path))
        if kind == "file":
            warnings.append(f"ignored {student}: expected one folder per student")
            continue
        if kind != "folder":
            submissions.append(Submission(student, "", "", Path(entry.path), None, notes, _not_followed(
                f"the student folder {student}", kind), submitted))
            continue
        for inner in _entries(Path(entry.path)):
            inner_kind = kind_of(Path(inner.path))
            assignment_sources = _assignment_sources(sources, inner.name, all_sources)
            if inner_kind == "folder":
                submissions += _assignment(student, Path(inner.path), assignment_sources, submitted, notes, warnings)
            elif inner_kind != "file" and assignment_sources and not inner.name.endswith(".ipynb"):
                assignment, more = _named(inner.name, "assignment folder", warnings)
                problem = _not_followed(f"the assignment folder {student}/{assignment}", inner_kind)
                submissions += [Submission(student, assignment, name, Path(inner.path), source, notes + more, problem,
                                           submitted) for name, source in assignment_sources.items()]
            else:
                found = _flat(student, Path(inner.path), inner_kind, all_sources, submitted, notes, warnings)
                submissions += [found] if found else []
    return submissions, warnings


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as listing:
        return sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)


def _named(name: str, what: str, warnings: list[str]) -> tuple[str, tuple[str, ...]]:
    """The name as shown, and a note when it had to be escaped."""
    problem = name_problem(name)
    if not problem:
        return name, ()
    shown = shown_name(name)
    warnings.append(f"the name of the {what} {shown} cannot be used as it is ({problem}): shown escaped")
    return shown, (f"the name of this {what} cannot be used as it is ({problem}): shown escaped",)


def _not_followed(what: str, kind: str) -> tuple[Outcome, str]:
    return Outcome.NOT_REGULAR, f"{what} is {WHAT.get(kind, 'not a regular file')}: not followed, not graded"


def _flat(student: str, path: Path, kind: str, all_sources: dict[str, Path], root: Path, notes: tuple[str, ...],
          warnings: list[str]) -> Submission | None:
    if path.suffix != ".ipynb" and path.stem not in all_sources:
        warnings.append(f"ignored {student}/{shown_name(path.name)}: not a notebook")
        return None
    name, more = _named(path.stem, "notebook", warnings)
    problem = None if kind == "file" else _not_followed(f"{student}/{name}{path.suffix}", kind)
    return Submission(student, name, name, path, all_sources.get(path.stem), notes + more, problem, root)


def _assignment(student: str, folder: Path, sources: dict[str, Path], root: Path, notes: tuple[str, ...],
                warnings: list[str]) -> list[Submission]:
    assignment, more = _named(folder.name, "assignment folder", warnings)
    notes = notes + more
    files = _files(folder)   # every entry that is not a real folder, links and FIFOs included
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    if not sources:
        warnings.append(f"{student}/{assignment}: no lab source named {assignment!r} (graded 'no source')")
    found: list[Submission] = []
    matched: set[str] = set()

    def submission(name: str, path: Path | None, source: Path | None, *extra: str) -> Submission:
        kind = kind_of(path) if path is not None else "file"
        problem = None if kind == "file" else _not_followed(
            f"{student}/{assignment}/{shown_name(str(path.relative_to(folder)))}", kind)
        return Submission(student, assignment, name, path, source, notes + extra, problem, root)

    for path in notebooks:
        if path.stem in sources:
            found.append(submission(path.stem, path, sources[path.stem]))
            matched.add(path.stem)
        elif len(sources) == 1 and next(iter(sources)) not in matched and not any(
                p.stem in sources for p in notebooks):
            name, source = next(iter(sources.items()))
            found.append(submission(name, path, source, f"submitted as {shown_name(path.name)!r}"))
            matched.add(name)
        else:
            found.append(submission(_named(path.stem, "notebook", warnings)[0], path, None))
    for name, source in sources.items():
        if name in matched:
            continue
        others = [p for p in files if p.stem == name or (len(sources) == 1 and p.suffix != ".ipynb")]
        found.append(submission(name, others[0] if others else None, source))  # e.g. a .pdf instead of the notebook
    for path in files:
        if path.suffix != ".ipynb" and path.name != "timestamp.txt" and not any(s.path == path for s in found):
            warnings.append(f"ignored {student}/{assignment}/{shown_name(str(path.relative_to(folder)))}: "
                            "not a notebook")
    return found


def _files(folder: Path) -> list[Path]:
    """Everything below ``folder`` that is not a folder (hidden names skipped), never entering a link."""
    found = []
    for entry in _entries(folder):
        path = Path(entry.path)
        if kind_of(path) == "folder":
            found += _files(path)
        else:
            found.append(path)
    return found
