"""What ``course grade`` writes: the gradebook CSV, one feedback page per notebook, a summary.

Feedback teaches without giving answers away: for each exercise, which case
failed, the learner's own value and the hint. Hidden cases are numbered, never
shown; no test code and no reference value appears; tracebacks are those of
the learner's own cells, trimmed. Each exercise says how many of its points
came from public cases and how many from hidden ones.

The gradebook is safe to open in a spreadsheet: a cell that starts with
``= + - @``, a tab or a carriage return is prefixed with ``'`` so that it is
never taken for a formula.

>>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe("-1 point"), spreadsheet_safe("alice")
("'=HYPERLINK(1)", "'-1 point", 'alice')
"""

from __future__ import annotations

import csv
import io
import resource
import sys
import time
from collections import Counter
from html import escape
from pathlib import Path

from course_utils.checks.render import COLORS, FAIL_COLOR, MARKS
from course_utils.grading.grade import Graded, Row
from course_utils.grading.table import format_table

COLUMNS = ["student", "assignment", "notebook", "exercise", "points", "max_points", "status", "message"]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a gradebook cell that no spreadsheet takes for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def shown_points(points: float | None, pending: str = "") -> str:
    """A row's points as written: ``pending`` for points not graded yet (manual grading).

    >>> shown_points(1.5), shown_points(None, "pending")
    ('1.5', 'pending')
    """
    return pending if points is None else f"{points:g}"


def csv_text(rows: list[Row]) -> str:
    """The gradebook, one row per exercise, in a stable order (same input, same bytes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        text = [spreadsheet_safe(str(cell)) for cell in (row.student, row.assignment, row.notebook, row.exercise)]
        writer.writerow([*text, shown_points(row.points), f"{row.max_points:g}",  # numbers: never a formula
                         spreadsheet_safe(row.status.value), spreadsheet_safe(row.message)])
    return buffer.getvalue()


def feedback_html(graded: Graded) -> str:
    """A self-contained page for one learner's notebook."""
    sub = graded.submission
    head = (f"<h1>{escape(sub.notebook)}</h1><p>{escape(sub.student)} · {escape(sub.assignment)} · "
            f"<b>{graded.points:g} / {graded.max_points:g} points</b></p>")
    notes = "".join(f"<p class='note'>{escape(note)}</p>" for note in graded.notes)
    summary = ["<table><tr><th>exercise</th><th>points</th><th>status</th><th>message</th></tr>"]
    for row in graded.rows:
        color = COLORS.get(row.status, FAIL_COLOR)
        summary.append(f"<tr><td><code>{escape(row.exercise)}</code></td>"
                       f"<td>{shown_points(row.points, 'pending')} / {row.max_points:g}</td>"
                       f"<td style='color:{color}'>{escape(row.status.value)}</td><td>{escape(row.message)}</td></tr>")
    summary.append("</table>")
    details = []
    for result in graded.results:
        if not result.cases or result.status == "not attempted":
            continue
        details.append(f"<h3>{escape(result.exercise)} — {escape(result.title)}</h3>{_parts(result)}<table>"
                       "<tr><th></th><th>case</th><th>your answer</th><th>hint</th></tr>")
        for case in result.cases:
            color = COLORS.get(case.status, FAIL_COLOR)
            note = "" if case.status == "passed" else escape(case.message or case.status)
            details.append(f"<tr><td style='color:{color}'>{MARKS.get(case.status, '✗')}</td>"
                           f"<td><code>{escape(case.label)}</code></td><td><code>{escape(case.got)}</code></td>"
                           f"<td>{note}</td></tr>")
        details.append("</table>")
    errors = []
    for error in graded.errors:
        where = f"cell {error.index + 1}" + (f" ({error.grade_id})" if error.grade_id else "")
        trace = escape("\n".join(error.traceback)) if error.traceback else escape(f"{error.ename}: {error.evalue}")
        errors.append(f"<h3>Error in your {escape(where)}</h3><pre>{trace}</pre>")
    style = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:3px 8px;"
             "text-align:left;vertical-align:top}pre{background:#f6f8fa;padding:.6em;overflow:auto}"
             ".note{color:#9a6700}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(sub.notebook)} — "
            f"{escape(sub.student)}</title><style>{style}</style></head><body>{head}{notes}{''.join(summary)}"
            f"{''.join(details)}{''.join(errors)}<p style='color:#6e7781'>Hidden cases are numbered; their inputs "
            "and expected values stay with your instructor.</p></body></html>\n")


def _parts(result) -> str:
    """Which part of the points came from public cases and which from hidden ones."""
    if not result.hidden_run:
        return ""
    return (f"<p>{result.public_points:g} points from public cases, {result.hidden_points:g} from hidden "
            "cases</p>")


def write_outputs(out: Path, graded: list[Graded]) -> Path:
    """``out/grades.csv`` and ``out/feedback/<student>/<assignment>/<notebook>.html``.

    The names are those of the submissions folder (escaped by :mod:`.collect` when they could not be used
    as they are), so that two submissions never share a page.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = [row for item in graded for row in item.rows]
    (out / "grades.csv").write_text(csv_text(rows), encoding="utf-8")
    for item in graded:
        sub = item.submission
        page = out / "feedback" / _folder(sub.student) / _folder(sub.assignment) / f"{_folder(sub.notebook)}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(feedback_html(item), encoding="utf-8")
    return out / "grades.csv"


def summary(graded: list[Graded], seconds: float, workers: int) -> str:
    """Per exercise: mean points and how many passed, failed... Then the notebooks that need a look."""
    by_exercise: dict[str, list[Row]] = {}
    for item in graded:
        for row in item.rows:
            by_exercise.setdefault(f"{row.notebook} {row.exercise}".strip(), []).append(row)
    table = []
    for name, rows in by_exercise.items():
        counts = Counter(row.status for row in rows)
        scored = [row.points for row in rows if row.points is not None]
        mean = f"{sum(scored) / len(scored):.2f}" if scored else "pending"
        table.append([name, f"{mean}/{rows[0].max_points:g}", str(counts.get("passed", 0)),
                      str(counts.get("partial", 0)), str(counts.get("failed", 0)), str(counts.get("not attempted", 0)),
                      str(sum(n for s, n in counts.items() if s not in ("passed", "partial", "failed", "not attempted")))])
    text = format_table(["exercise", "mean", "passed", "partial", "failed", "not att.", "other"], table)
    usual = {"passed", "partial", "failed", "not attempted"}
    attention = [f"  {item.submission.student}/{item.submission.assignment}/{item.submission.notebook}: "
                 f"{sorted({str(row.status) for row in item.rows} - usual)}"
                 for item in graded if {str(row.status) for row in item.rows} - usual]
    if attention:
        text += "\n\nneed a look:\n" + "\n".join(attention)
    rate = len(graded) / seconds if seconds else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    text += (f"\n\n{len(graded)} notebooks graded in {seconds:.1f} s with {workers} worker(s) "
             f"({rate:.2f} notebooks/s; the grader's peak memory: {peak:.0f} MB)")
    return text


class Progress:
    """A progress line with counts and ETA: redrawn in place on a terminal, one line per notebook in a log."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total = total
        self.stream = stream
        self.start = time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, graded: Graded, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (total - done)
        width = 24
        bar = "#" * round(width * done / total) + "-" * (width - round(width * done / total))
        sub = graded.submission
        line = (f"[{bar}] {done}/{total} · {elapsed:.0f} s · ETA {eta:.0f} s · "
                f"{sub.student}/{sub.notebook}: {graded.points:g}/{graded.max_points:g}")
        if self.tty:
            self.stream.write("\r" + line[:110].ljust(110) + ("\n" if done == total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _folder(name: str) -> str:
    """A student, assignment or notebook name as a folder name (an empty one, for a student folder that
    could not be read, becomes ``_``)."""
    return name if name not in ("", ".", "..") else "_"
