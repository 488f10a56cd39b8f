"""Show an exercise's result: a small HTML panel in Jupyter, plain text elsewhere.

Wording rule: while hidden cases exist, a learner who passes every public case
reads "public checks passed", never "all tests passed".

Readable everywhere: colour never carries a result alone (each mark is a symbol, ✓ ✗ …, named in words
for screen readers), and the panel's text takes the page's own colour, so that it reads on JupyterLab's
light and dark themes alike; the marks are white symbols on their colour (contrast ≥ 4.5 : 1 on any page).
"""

from __future__ import annotations

import textwrap
from html import escape

from .engine import NOT_ATTEMPTED, PASSED, ExerciseResult

MARKS = {PASSED: "✓", NOT_ATTEMPTED: "…"}
COLORS = {PASSED: "#1a7f37", NOT_ATTEMPTED: "#6e7781"}
FAIL_COLOR = "#cf222e"


def badge(status: str) -> str:
    """A status's mark as HTML: the symbol in white on the status's colour, named by the status in words
    (for screen readers, and as a tooltip).

    >>> badge("passed")  # doctest: +ELLIPSIS
    '<span role="img" aria-label="passed" title="passed" style="...background:#1a7f37;color:#fff...">✓</span>'
    """
    word = escape(str(getattr(status, "value", status)))
    return (f'<span role="img" aria-label="{word}" title="{word}" style="display:inline-block;min-width:1.2em;'
            f'text-align:center;border-radius:3px;padding:0 3px;background:{COLORS.get(status, FAIL_COLOR)};'
            f'color:#fff;font-weight:600">{MARKS.get(status, "✗")}</span>')


def headline(result: ExerciseResult) -> str:
    """One sentence on the whole exercise.

    >>> from course_utils.checks.engine import ExerciseResult
    >>> headline(ExerciseResult("init.he_std", "He std", 2, 2, "passed", []))
    'public checks passed'
    """
    if result.status == PASSED:
        return "all checks passed, hidden cases included" if result.hidden_run else "public checks passed"
    if result.status == NOT_ATTEMPTED:
        return "not attempted yet: replace `raise NotImplementedError()` with your code"
    if result.message:
        return result.message
    failed = sum(case.status != PASSED for case in result.cases)
    return f"{failed} of {len(result.cases)} cases need another look"


def to_text(result: ExerciseResult, width: int = 100) -> str:
    """Plain-text report, one line per case; long labels and hints are wrapped, never cut."""
    mark = MARKS.get(result.status, "✗")
    lines = textwrap.wrap(f"{mark} {result.exercise} — {result.title}: "
                          f"{_points(result.points)}/{_points(result.max_points)} points · {headline(result)}",
                          width, subsequent_indent="    ")
    if result.status != NOT_ATTEMPTED:
        for case in result.cases:
            line = f"{MARKS.get(case.status, '✗')} {case.label}"
            if case.got:
                line += f" → {case.got}"
            if case.want:
                line += f" (expected {case.want})"
            lines += textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="      ")
            if case.message and case.status != PASSED:
                lines += textwrap.wrap(f"hint: {case.message}", width, initial_indent="      ",
                                       subsequent_indent="            ")
    return "\n".join(lines)


def to_html(result: ExerciseResult) -> str:
    """A compact panel: a headline and a table of cases with the hint of each failure."""
    color = COLORS.get(result.status, FAIL_COLOR)
    head = (f'<div style="font-weight:600">{badge(result.status)} {escape(result.exercise)} — '
            f'{escape(result.title)}: {_points(result.points)}/{_points(result.max_points)} points'
            f' · {escape(headline(result))}</div>')
    rows = []
    if result.status != NOT_ATTEMPTED:
        for case in result.cases:
            note = "" if case.status == PASSED else escape(case.message or case.status)
            want = f"<br><span style='opacity:0.8'>expected {escape(case.want)}</span>" if case.want else ""
            rows.append(
                f"<tr><td style='padding:1px 6px'>{badge(case.status)}</td>"
                f"<td style='padding:1px 6px'><code>{escape(case.label)}</code></td>"
                f"<td style='padding:1px 6px'><code>{escape(case.got)}</code>{want}</td>"
                f"<td style='padding:1px 6px'>{note}</td></tr>")
    table = ("<table style='border-collapse:collapse;font-size:90%;margin-top:4px'>"
             "<tr><th></th><th style='text-align:left'>case</th><th style='text-align:left'>your answer</th>"
             "<th style='text-align:left'>hint</th></tr>" + "".join(rows) + "</table>") if rows else ""
    return (f"<div class='course-check' style='border-left:4px solid {color};padding:4px 10px;margin:4px 0'>"
            f"{head}{table}</div>")


def _points(value: float) -> str:
    return f"{value:g}"
