import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
ALL_NOTEBOOKS = LESSONS + SOLUTIONS + EXERCISES


def course(*args: str, timeout: float = 900, env_root: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``course`` command from the project root (or on another course folder)."""
    command = [str(Path(sys.executable).with_name("course")), *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if env_root is not None:
        env["COURSE_ROOT"] = str(env_root)
    return subprocess.run(command, cwd=env_root or ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def check_json(notebook: Path) -> list[dict]:
    result = course("check", "--json", str(notebook.relative_to(ROOT)))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def _no_record_mode(monkeypatch):
    """Tests start outside grading mode, whatever the shell exported."""
    monkeypatch.delenv("COURSE_RECORD", raising=False)


def reference_answers() -> dict[str, list[dict]]:
    """Every exercise's recorded reference answers (solutions/answers/*.json), by exercise id."""
    answers: dict[str, list[dict]] = {}
    for path in sorted((ROOT / "solutions" / "answers").glob("*.json")):
        answers.update(json.loads(path.read_text())["exercises"])
    return answers


def full_marks(exercise_id: str, function) -> tuple[bool, list[str]]:
    """Grade ``function`` on every case of the exercise, hidden ones included, against the reference
    answers: (full marks?, the messages of the cases that did not pass)."""
    from course_utils.checks.engine import PASSED, attempt, case_key, grade
    from course_utils.checks.registry import EXERCISES as REGISTRY

    exercise, entries = REGISTRY[exercise_id], reference_answers()[exercise_id]
    answers = {case_key(e["case"]): e["value"] for e in entries}
    result = grade(exercise, [(e["case"], e["hidden"], attempt(exercise, function, e["case"])) for e in entries],
                   answers)
    return result.points == result.max_points, [c.message for c in result.cases if c.status != PASSED]


@functools.cache
def script(name: str):
    """scripts/<name>.py as a module, e.g. ``script("build_site")``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def site_builder():
    """scripts/build_site.py: the course site's build."""
    return script("build_site")


@functools.cache
def lesson_run(path: Path):
    """Execute a lesson once per test session: ``(execution, claims it made)``. The lesson test checks the
    run, the site test (tests/browser/test_site.py) builds the pages from it, and a good run is kept in
    build/executed/, where ``make site`` reuses it."""
    from course_utils.notebooks import execute_notebook, read_notebook

    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "claims.jsonl"
        result = execute_notebook(read_notebook(path), cwd=path.parent, timeout=300,
                                  env={"COURSE_CLAIMS": str(record)})
        made = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    if result.status == "ok":
        site_builder().keep_executed(result.notebook, path)
    return result, made


def lab_totals(path: Path) -> tuple[float, int]:
    """A lab's total points and number of graded exercises, read from its test cells."""
    import nbformat

    cells = [c for c in nbformat.read(path, as_version=4).cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return sum(c.metadata["nbgrader"]["points"] for c in cells), len(cells)

