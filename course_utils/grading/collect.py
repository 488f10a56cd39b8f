"""Find the submissions in a folder and the instructor's source of each.

Two layouts are understood:

* nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``;
* a plain ``<student>/<notebook>.ipynb`` (the assignment is the notebook's name).

The source of a notebook is ``<sources>/<notebook>.ipynb`` or
``<sources>/<assignment>/<notebook>.ipynb`` (nbgrader's ``source/`` folder).
A submitted notebook whose name matches no source, in an assignment that has
exactly one source notebook, is graded against that one (browsers like to save
``03_initialization (1).ipynb``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    notebook: str          # the name it is reported under (the source's name when known)
    path: Path | None      # None: nothing was submitted for an expected notebook
    source: Path | None    # None: no instructor source matches
    note: str = ""         # e.g. "submitted as '03_initialization (1).ipynb'"


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
    """Every submission under ``submitted`` with its source, and warnings about ignored files."""
    all_sources = find_sources(sources)
    submissions: list[Submission] = []
    warnings: list[str] = []
    for student_dir in sorted(p for p in submitted.iterdir() if not p.name.startswith(".")):
        if not student_dir.is_dir():
            warnings.append(f"ignored {student_dir.name}: expected one folder per student")
            continue
        student = student_dir.name
        for entry in sorted(p for p in student_dir.iterdir() if not p.name.startswith(".")):
            if entry.is_dir():
                submissions += _assignment(student, entry, _assignment_sources(sources, entry.name, all_sources),
                                           warnings)
            else:
                submissions.append(_flat(student, entry, all_sources, warnings))
    return [s for s in submissions if s is not None], warnings


def _flat(student: str, path: Path, all_sources: dict[str, Path], warnings: list[str]) -> Submission | None:
    if path.suffix != ".ipynb" and path.stem not in all_sources:
        warnings.append(f"ignored {student}/{path.name}: not a notebook")
        return None
    source = all_sources.get(path.stem)
    return Submission(student, path.stem, path.stem, path, source)


def _assignment(student: str, folder: Path, sources: dict[str, Path], warnings: list[str]) -> list[Submission]:
    assignment = folder.name
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    found: list[Submission] = []
    matched: set[str] = set()
    for path in notebooks:
        if path.stem in sources:
            found.append(Submission(student, assignment, path.stem, path, sources[path.stem]))
            matched.add(path.stem)
        elif len(sources) == 1 and next(iter(sources)) not in matched and not any(
                p.stem in sources for p in notebooks):
            name, source = next(iter(sources.items()))
            found.append(Submission(student, assignment, name, path, source, f"submitted as {path.name!r}"))
            matched.add(name)
        else:
            found.append(Submission(student, assignment, path.stem, path, None))
    for name, source in sources.items():
        if name in matched:
            continue
        others = [p for p in files if p.stem == name or (len(sources) == 1 and p.suffix != ".ipynb")]
        if others:  # e.g. 03_initialization.pdf instead of the notebook
            found.append(Submission(student, assignment, name, others[0], source))
        else:
            found.append(Submission(student, assignment, name, None, source))
    for path in files:
        if path.suffix != ".ipynb" and not any(s.path == path for s in found):
            warnings.append(f"ignored {student}/{assignment}/{path.relative_to(folder)}: not a notebook")
    return found
