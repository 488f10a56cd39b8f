"""``course export``: ``grades.csv`` as a learning-management system takes it.

``grades.csv`` (written by ``course grade``) has one row per graded cell or
exercise. ``course export GRADES --format F [--roster ROSTER.csv]`` turns it into:

* ``canvas``: Canvas's gradebook CSV (``Student, ID, SIS User ID, SIS Login ID,
  Section``, then one column per assignment, a ``Points Possible`` row first),
  keyed by the roster's Canvas ids; students missing from the roster are left
  out, with a warning (Canvas could not match them);
* ``long``: one row per student and assignment (points, max points, late
  penalty, points pending manual grading);
* ``wide``: one row per student, one column per assignment, and the total.

The roster maps the names of the submission folders to the LMS's ids: a CSV
with a ``student`` column (the folder name, nbgrader's student id) and any of
``name``, ``id`` (Canvas's user id), ``sis_user_id``, ``sis_login_id``,
``section``, ``email``. An assignment's points are those graded so far (a
late penalty included); points pending manual grading are not in them, and
the export says how many notebooks still have some.

>>> rows = [{"student": "ana", "assignment": "ps1", "points": "2", "max_points": "3", "exercise": "t",
...          "status": "passed"},
...         {"student": "ana", "assignment": "ps1", "points": "", "max_points": "2", "exercise": "essay",
...          "status": "needs manual grading"}]
>>> print(export(rows, {}, "wide"), end="")
student,name,id,ps1,total,max_total
ana,,,2,2,5
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading.late import LATE_ROW
from course_utils.grading.report import spreadsheet_safe

FORMATS = ("canvas", "long", "wide")
ROSTER_COLUMNS = ("name", "id", "sis_user_id", "sis_login_id", "section", "email")


@dataclass
class Total:
    points: float = 0.0
    max_points: float = 0.0
    late_penalty: float = 0.0
    pending: float = 0.0   # points of cells that need manual grading


def read_grades(path: Path) -> list[dict]:
    """The rows of ``grades.csv`` (``path`` is the file or the folder ``course grade --out`` wrote)."""
    path = path / "grades.csv" if path.is_dir() else path
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """``{student: {column: value}}`` from a roster CSV with a ``student`` column."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "student" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: the roster needs a 'student' column (the submission folders' names)")
        return {row["student"].strip(): {k: (v or "").strip() for k, v in row.items() if k} for row in reader}


def totals(rows: list[dict]) -> dict[tuple[str, str], Total]:
    """Per (student, assignment): points graded so far, max points, late penalty, points pending."""
    found: dict[tuple[str, str], Total] = {}
    for row in rows:
        total = found.setdefault((_plain(row["student"]), _plain(row["assignment"])), Total())
        points = float(row["points"]) if row["points"] else None
        total.max_points += float(row["max_points"] or 0)
        if row["exercise"] == LATE_ROW and points is not None:
            total.late_penalty -= points
        if points is None:
            total.pending += float(row["max_points"] or 0)
        else:
            total.points += points
    return found


def _plain(text: str) -> str:
    """A name as grades.csv wrote it, without the ``'`` that keeps spreadsheets from reading a formula."""
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


def export(rows: list[dict], roster: dict[str, dict[str, str]], form: str, warn=lambda message: None) -> str:
    """The CSV text of ``rows`` (grades.csv) in the format ``form`` (one of ``FORMATS``)."""
    found = totals(rows)
    students = sorted({student for student, _ in found} | set(roster))
    assignments = sorted({assignment for _, assignment in found})
    pending = sorted(f"{s}/{a}" for (s, a), total in found.items() if total.pending)
    if pending:
        warn(f"{len(pending)} submission(s) have points pending manual grading, exported without them: "
             + ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else ""))
    missing = [s for s in students if s not in roster and any(key[0] == s for key in found)]
    if roster and missing:
        warn(f"{len(missing)} student(s) not in the roster: {', '.join(missing[:5])}"
             + (" (left out: Canvas could not match them)" if form == "canvas" else ""))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    number = lambda value: f"{round(value, 4):g}"
    safe = lambda values: [spreadsheet_safe(str(value)) for value in values]
    if form == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *safe(assignments)])
        maxima = {a: max((t.max_points for (s, x), t in found.items() if x == a), default=0) for a in assignments}
        writer.writerow(["Points Possible", "", "", "", "", *(number(maxima[a]) for a in assignments)])
        for student in students:
            if roster and student not in roster:
                continue
            info = roster.get(student, {})
            scores = [number(found[(student, a)].points) if (student, a) in found else "" for a in assignments]
            writer.writerow([*safe([info.get("name") or student, info.get("id", ""), info.get("sis_user_id", ""),
                                    info.get("sis_login_id", ""), info.get("section", "")]), *scores])
    elif form == "long":
        writer.writerow(["student", "name", "id", "assignment", "points", "max_points", "late_penalty",
                         "pending_manual_points"])
        for (student, assignment), total in sorted(found.items()):
            info = roster.get(student, {})
            writer.writerow([*safe([student, info.get("name", ""), info.get("id", ""), assignment]),
                             number(total.points), number(total.max_points), number(total.late_penalty),
                             number(total.pending)])
    elif form == "wide":
        writer.writerow(["student", "name", "id", *safe(assignments), "total", "max_total"])
        for student in students:
            info = roster.get(student, {})
            mine = [found.get((student, a)) for a in assignments]
            writer.writerow([*safe([student, info.get("name", ""), info.get("id", "")]),
                             *(number(t.points) if t else "" for t in mine),
                             number(sum(t.points for t in mine if t)), number(sum(t.max_points for t in mine if t))])
    else:
        raise ValueError(f"unknown export format {form!r}: one of {', '.join(FORMATS)}")
    return buffer.getvalue()
