"""A self-paced learner's progress: what the public checks of each lab said, kept on the learner's machine.

Each ``check`` a learner runs in a lab, in JupyterLab or Jupyter Notebook (Binder too), appends one line to
a file in the learner's Jupyter data folder: the exercise, how many public cases passed, the time. Nothing
is written in the course folder, nothing is sent anywhere, and nothing is written by a grading run
(record mode), a headless run (``course run``, the tests) or a check shown in a lesson. ``course progress``
and :func:`progress_panel` (in 00 start-here) read the file back: per lab, the exercises whose public
checks passed, the last attempt and what to do next. ``$COURSE_PROGRESS`` names another file, or ``off``.

>>> entry = {"time": "2026-01-05T10:00:00", "exercise": "start.accuracy", "public_cases": 3, "public_passed": 3}
>>> [lab.line() for lab in summarize([entry]) if lab.lab == "00_warmup"]
['1/4 passed, last attempt 2026-01-05 10:00; next: exercise 2, majority_baseline (not attempted)']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

PROGRESS_ENV = "COURSE_PROGRESS"
SESSION_ENV = "JPY_SESSION_NAME"  # the notebook a Jupyter server started this kernel for


def progress_file() -> Path | None:
    """Where progress is kept: ``$COURSE_PROGRESS``, else ``<jupyter data dir>/training-deep-networks/
    progress.jsonl`` (``~/.local/share/jupyter/...`` on Linux); None when ``$COURSE_PROGRESS`` is ``off``."""
    configured = os.environ.get(PROGRESS_ENV, "")
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "training-deep-networks" / "progress.jsonl"


def should_record() -> bool:
    """A learner's own attempt: a Jupyter server session on a notebook that is not a lesson (or an
    explicit ``$COURSE_PROGRESS`` file), never a headless run."""
    notebook = os.environ.get(SESSION_ENV, "")
    if os.environ.get(PROGRESS_ENV, "").lower() == "off":
        return False
    if notebook and Path(notebook).parent.name == "notebooks":
        return False  # a check shown in a lesson is a demonstration, not the learner's attempt
    return bool(notebook) or bool(os.environ.get(PROGRESS_ENV))


def record(result) -> None:
    """Append the public outcome of a check (an ``ExerciseResult``) to the progress file.

    Called by ``check`` after a kernel-mode check. Never raises: a progress file that cannot be written
    must not spoil a check.
    """
    if not should_record():
        return
    public = [case for case in result.cases if not case.hidden]
    entry = {"time": datetime.now().isoformat(timespec="seconds"), "exercise": result.exercise,
             "status": str(result.status), "public_cases": len(public),
             "public_passed": sum(case.status == "passed" for case in public), "notebook": os.environ.get(SESSION_ENV, "")}
    try:
        path = progress_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def read_entries(path: Path | None = None) -> list[dict]:
    """Every recorded check, oldest first (unreadable lines are skipped)."""
    path = path or progress_file()
    if path is None or not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and {"time", "exercise", "public_cases", "public_passed"} <= set(entry):
            entries.append(entry)
    return entries


@lru_cache(maxsize=1)
def labs() -> dict[str, list[str]]:
    """``{lab: [exercise ids in the lab's order]}`` in course order, from the answers shipped with the package."""
    from course_utils.checks.answers import PACKAGE_ANSWERS
    from course_utils.checks.registry import EXERCISES

    found = {}
    for path in sorted(PACKAGE_ANSWERS.glob("*.json")):
        ids = set(json.loads(path.read_text())["exercises"])
        found[path.stem] = [exercise for exercise in EXERCISES if exercise in ids]
    return found


@dataclass
class LabProgress:
    """One lab: its exercises in order, the latest public result of each attempted one, the last attempt."""

    lab: str
    exercises: list[str]
    latest: dict[str, dict] = field(default_factory=dict)  # exercise -> its latest entry

    def passed(self, exercise: str) -> bool:
        entry = self.latest.get(exercise)
        return bool(entry) and entry["public_cases"] > 0 and entry["public_passed"] == entry["public_cases"]

    @property
    def n_passed(self) -> int:
        return sum(self.passed(exercise) for exercise in self.exercises)

    @property
    def last_attempt(self) -> str:
        times = [entry["time"] for entry in self.latest.values()]
        return max(times).replace("T", " ")[:16] if times else ""

    @property
    def done(self) -> bool:
        return self.n_passed == len(self.exercises)

    def next_step(self) -> str:
        """What to do next in this lab, in a few words."""
        if self.done:
            return "done: every public check passed"
        if not self.latest:
            return f"start exercises/{self.lab}.ipynb"
        number, exercise = next((i, e) for i, e in enumerate(self.exercises, 1) if not self.passed(e))
        entry = self.latest.get(exercise)
        attempted = entry and entry.get("status") != "not attempted"
        state = f"{entry['public_passed']} of {entry['public_cases']} public cases pass" if attempted else "not attempted"
        return f"exercise {number}, {exercise.split('.', 1)[1]} ({state})"

    def line(self) -> str:
        last = f", last attempt {self.last_attempt}" if self.last_attempt else ""
        return f"{self.n_passed}/{len(self.exercises)} passed{last}; next: {self.next_step()}"


def summarize(entries: list[dict] | None = None) -> list[LabProgress]:
    """Every lab of the course with what the recorded checks say about it (latest attempt per exercise)."""
    entries = read_entries() if entries is None else entries
    progress = [LabProgress(lab, exercises) for lab, exercises in labs().items()]
    lab_of = {exercise: lab for lab in progress for exercise in lab.exercises}
    for entry in sorted(entries, key=lambda e: e["time"]):
        if entry["exercise"] in lab_of:
            lab_of[entry["exercise"]].latest[entry["exercise"]] = entry
    return progress


def next_lab(progress: list[LabProgress]) -> str:
    """One sentence: where to go next (the first lab, in course order, that is not done)."""
    todo = next((lab for lab in progress if not lab.done), None)
    if todo is None:
        return "every lab's public checks pass: well done. Your instructor's grading adds hidden cases."
    return f"next: {todo.next_step()}" if not todo.latest else f"next: exercises/{todo.lab}.ipynb, {todo.next_step()}"


def progress_html(progress: list[LabProgress]) -> str:
    """The panel's table: a mark and a word per lab, so that colour never carries the state alone."""
    from html import escape

    rows = []
    for lab in progress:
        mark = "✓ done" if lab.done else ("… started" if lab.latest else "· not started")
        rows.append(f"<tr><td>{escape(lab.lab)}</td><td>{lab.n_passed}/{len(lab.exercises)}</td><td>{mark}</td>"
                    f"<td>{escape(lab.last_attempt or '-')}</td><td>{escape(lab.next_step())}</td></tr>")
    return ("<table><thead><tr><th>lab</th><th>passed</th><th>state</th><th>last attempt</th><th>next</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table><p><b>{escape(next_lab(progress))}</b></p>")


def progress_panel():
    """A small widget for 00 start-here: the progress table and a button that reads the file again."""
    import ipywidgets as widgets

    table = widgets.HTML(progress_html(summarize()))
    refresh = widgets.Button(description="Refresh", tooltip="read the progress file again")
    refresh.on_click(lambda _: setattr(table, "value", progress_html(summarize())))
    return widgets.VBox([table, refresh])
