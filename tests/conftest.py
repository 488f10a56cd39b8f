import json
import os
import subprocess
import sys
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
