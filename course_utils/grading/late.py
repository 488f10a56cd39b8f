"""Late submissions: each submission's ``timestamp.txt``, the assignment's due date, and a late policy.

nbgrader's ``collect`` writes ``submitted/<student>/<assignment>/timestamp.txt``;
the due date comes from ``--due`` or from nbgrader's gradebook (the
assignment's due date plus the student's extension). The policy
(``course grade --late-policy``) is one of:

=================  ==============================================================
``none``           no penalty (the default); lateness is still shown
``per-hour:P``     P % of the notebook's points earned, per started hour late
``per-day:P``      P % of the points earned, per started day (24 h) late
``zero``           0 points as soon as it is late (nbgrader's ``zero`` method)
``...,cutoff:H``   with ``per-hour`` or ``per-day``: 0 points past H hours late
=================  ==============================================================

A penalty never exceeds the points earned, and is taken on the points known
when grading (manual grades given later are not reduced). It shows as a row
``late penalty`` of ``grades.csv`` (negative points, status ``late``) and as a
note on the feedback page; with ``--gradebook`` it is the notebook's
``late_submission_penalty``, which nbgrader's own feedback and exports use.

>>> policy = LatePolicy.parse("per-day:10,cutoff:72")
>>> policy.penalty(8.0, hours=1), policy.penalty(8.0, hours=25), policy.penalty(8.0, hours=73)
(0.8, 1.6, 8.0)
>>> LatePolicy.parse("none").penalty(8.0, hours=100), LatePolicy.parse("zero").penalty(8.0, hours=0.01)
(0.0, 8.0)
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from course_utils.grading.files import NotRegular, TooLarge, read_under

METHODS = ("none", "per-hour", "per-day", "zero")
TIMESTAMP = "timestamp.txt"
LATE_ROW = "late penalty"


class Lateness(str, Enum):
    LATE = "late"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class LatePolicy:
    method: str = "none"
    percent: float = 0.0
    cutoff_hours: float | None = None

    @classmethod
    def parse(cls, text: str) -> "LatePolicy":
        """``none``, ``zero``, ``per-hour:P`` or ``per-day:P``, optionally followed by ``,cutoff:H``."""
        method, percent, cutoff = "none", 0.0, None
        for part in (p.strip() for p in text.split(",") if p.strip()):
            name, _, value = part.partition(":")
            try:
                if name == "cutoff":
                    cutoff = float(value)
                elif name in METHODS:
                    method, percent = name, float(value) if value else 0.0
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"late policy {text!r}: expected none, zero, per-hour:P or per-day:P, optionally "
                                 "followed by ,cutoff:H") from None
        if method in ("per-hour", "per-day") and not 0 < percent <= 100:
            raise ValueError(f"late policy {text!r}: the percentage must be above 0 and at most 100")
        if cutoff is not None and (cutoff < 0 or method not in ("per-hour", "per-day", "none")):
            raise ValueError(f"late policy {text!r}: a cutoff goes with none, per-hour or per-day, in hours >= 0")
        return cls(method, percent, cutoff)

    def penalty(self, points: float, *, hours: float) -> float:
        """The points taken from ``points`` earned by a notebook ``hours`` late."""
        if hours <= 0 or points <= 0:
            return 0.0
        if self.method == "zero" or (self.cutoff_hours is not None and hours > self.cutoff_hours):
            return points
        if self.method == "none":
            return 0.0
        units = math.ceil(hours / (1 if self.method == "per-hour" else 24) - 1e-9)
        return round(min(points, points * self.percent / 100 * units), 4)

    def describe(self) -> str:
        text = {"none": "no penalty", "zero": "zero when late",
                "per-hour": f"{self.percent:g}% per started hour", "per-day": f"{self.percent:g}% per started day"}
        cutoff = f", zero past {self.cutoff_hours:g} h" if self.cutoff_hours is not None else ""
        return text[self.method] + cutoff


def parse_time(text: str) -> datetime.datetime:
    """A timestamp or due date read by nbgrader's own parser (naive UTC), as ``nbgrader autograde`` reads it.

    >>> parse_time("2026-03-01 12:00:00 UTC"), parse_time("2026-03-01T13:00:00+01:00")
    (datetime.datetime(2026, 3, 1, 12, 0), datetime.datetime(2026, 3, 1, 12, 0))
    """
    from nbgrader.utils import parse_utc

    return parse_utc(text.strip())


def submission_time(sub) -> datetime.datetime | None:
    """The ``timestamp.txt`` beside a submitted notebook (nbgrader's layout), read without trusting it;
    None if there is none or it cannot be read."""
    if sub.path is None or sub.root is None or sub.path.parent == sub.root:
        return None
    try:
        text = read_under(sub.root, (sub.path.parent / TIMESTAMP).relative_to(sub.root), 1024).decode("utf-8")
        return parse_time(text) if text.strip() else None
    except (NotRegular, TooLarge, OSError, UnicodeDecodeError, ValueError, OverflowError):
        return None


def apply_late(graded: list, policy: LatePolicy, due_of: Callable[[str, str], datetime.datetime | None],
               row_type) -> None:
    """Add a ``late penalty`` row and a note to each late notebook of ``graded`` (in place).

    ``due_of(assignment, student)`` is the due date (None: no due date); ``row_type`` makes a gradebook
    row (:class:`.grade.Row`).
    """
    for item in graded:
        sub = item.submission
        due = due_of(sub.assignment, sub.student)
        submitted = submission_time(sub)
        if due is None or submitted is None or submitted <= due:
            continue
        hours = (submitted - due).total_seconds() / 3600
        penalty = policy.penalty(item.points, hours=hours)
        when = f"submitted {hours:.1f} h after the due date ({due:%Y-%m-%d %H:%M} UTC)"
        item.notes.append(f"{when}: {policy.describe()}, -{penalty:g} points")
        item.rows.append(row_type(sub.student, sub.assignment, sub.notebook, LATE_ROW, -penalty or 0.0, 0.0, Lateness.LATE,
                                  f"{when}; late policy: {policy.describe()}"))


def late_penalty(rows) -> float | None:
    """The late penalty among a notebook's rows (a positive number), None if it was not late."""
    found = [row.points for row in rows if row.exercise == LATE_ROW and row.status == Lateness.LATE]
    return -found[0] if found else None
