"""A self-paced learner's progress (`course progress`, the 00 start-here panel): what is recorded, when, and
what the summary says."""

import json

import pytest

from conftest import ROOT, course, lab_totals
from course_utils import progress
from course_utils.checks.engine import CaseResult, ExerciseResult, Status
from course_utils.notebooks import execute_notebook, read_notebook


@pytest.fixture
def progress_path(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("COURSE_PROGRESS", str(path))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return path


def entry(exercise, passed, cases=3, time="2026-01-05T10:00:00", status="failed"):
    return {"time": time, "exercise": exercise, "status": status, "public_cases": cases, "public_passed": passed}


def result(exercise, statuses, hidden=()):
    cases = [CaseResult(f"case {i}", Status(s)) for i, s in enumerate(statuses)]
    cases += [CaseResult(f"hidden {i}", Status(s), hidden=True) for i, s in enumerate(hidden)]
    return ExerciseResult(exercise, exercise, 1.0, 1.0, Status.PARTIAL, cases)


def lab(summary, name):
    return next(item for item in summary if item.lab == name)


def test_every_lab_is_listed_in_course_order_with_its_exercises_in_lab_order():
    labs = progress.labs()
    assert list(labs) == sorted(path.stem for path in (ROOT / "exercises").glob("*.ipynb"))
    lab03 = read_notebook(ROOT / "exercises" / "03_initialization.ipynb")
    checked = [cell.source.split('check("')[1].split('"')[0] for cell in lab03.cells
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert labs["03_initialization"] == checked


def test_the_latest_attempt_of_an_exercise_decides_and_the_next_step_names_the_first_one_left():
    entries = [entry("init.xavier_std", 3, time="2026-01-05T10:00:00"),
               entry("init.he_std", 2, time="2026-01-05T10:05:00"),
               entry("init.xavier_std", 1, time="2026-01-05T10:07:00")]  # broken again later
    lab03 = lab(progress.summarize(entries), "03_initialization")
    assert lab03.n_passed == 0 and lab03.last_attempt == "2026-01-05 10:07"
    assert lab03.next_step() == "exercise 1, xavier_std (1 of 3 public cases pass)"
    entries.append(entry("init.xavier_std", 3, time="2026-01-05T10:09:00"))
    lab03 = lab(progress.summarize(entries), "03_initialization")
    assert lab03.n_passed == 1 and lab03.next_step() == "exercise 2, he_std (2 of 3 public cases pass)"


def test_next_lab_is_the_first_lab_not_done():
    assert progress.next_lab(progress.summarize([])) == "next: start exercises/00_warmup.ipynb"
    done = [entry(e, 3) for e in progress.labs()["00_warmup"]]
    summary = progress.summarize(done + [entry("data.find_duplicates", 0, status="not attempted")])
    assert lab(summary, "00_warmup").done
    assert progress.next_lab(summary) == ("next: exercises/01_data_quality.ipynb, exercise 1, find_duplicates "
                                          "(not attempted)")
    everything = [entry(e, 3) for exercises in progress.labs().values() for e in exercises]
    assert progress.next_lab(progress.summarize(everything)).startswith("every lab's public checks pass")


def test_record_counts_public_cases_only_and_skips_lessons_and_headless_runs(progress_path, monkeypatch):
    progress.record(result("init.he_std", ["passed", "passed"], hidden=["failed"]))
    (recorded,) = progress.read_entries()
    assert (recorded["public_cases"], recorded["public_passed"]) == (2, 2)  # the hidden failure is not the learner's
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/00_start_here.ipynb")
    progress.record(result("start.accuracy", ["failed"]))  # a lesson's demonstration
    monkeypatch.setenv("JPY_SESSION_NAME", "exercises/00_warmup.ipynb")
    progress.record(result("start.accuracy", ["passed"]))
    assert [e["exercise"] for e in progress.read_entries()] == ["init.he_std", "start.accuracy"]
    monkeypatch.setenv("COURSE_PROGRESS", "off")
    progress.record(result("start.accuracy", ["passed"]))
    monkeypatch.delenv("COURSE_PROGRESS")
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert not progress.should_record(), "a headless run (no Jupyter session, no progress file) records nothing"
    assert len(progress.read_entries(progress_path)) == 2


def test_a_broken_progress_file_never_breaks_a_check(tmp_path, monkeypatch):
    folder = tmp_path / "a-file-not-a-folder"
    folder.write_text("")
    monkeypatch.setenv("COURSE_PROGRESS", str(folder / "progress.jsonl"))
    progress.record(result("init.he_std", ["passed"]))  # cannot be written: silently skipped
    path = tmp_path / "progress.jsonl"
    path.write_text('not json\n{"exercise": "init.he_std"}\n' + json.dumps(entry("init.he_std", 3)) + "\n")
    assert progress.read_entries(path) == [entry("init.he_std", 3)]


def test_course_progress_reflects_a_labs_checks_after_they_run(progress_path):
    """Run the warm-up lab's reference solution in a kernel (as a learner would), then the learner's
    untouched copy: `course progress` shows the lab done, then back to its first exercise."""
    env = {"COURSE_PROGRESS": str(progress_path)}
    solved = execute_notebook(read_notebook(ROOT / "solutions" / "00_warmup.ipynb"), cwd=ROOT / "solutions", env=env)
    assert solved.status == "ok", solved.summary()
    shown = course("progress")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("00_warmup"))
    exercises = lab_totals(ROOT / "solutions" / "00_warmup.ipynb")[1]
    assert f"{exercises}/{exercises}" in row and "done" in row, shown.stdout
    assert "next: start exercises/01_data_quality.ipynb" in shown.stdout
    assert str(progress_path) in shown.stdout

    # the learner's copy, untouched: cells that call the unwritten functions stop with NotImplementedError
    execute_notebook(read_notebook(ROOT / "exercises" / "00_warmup.ipynb"), cwd=ROOT / "exercises", env=env,
                     allow_errors=True)
    row = next(line for line in course("progress").stdout.splitlines() if line.startswith("00_warmup"))
    assert f"0/{exercises}" in row and "exercise 1, accuracy (not attempted)" in row, row


def test_grading_and_course_check_write_no_progress(progress_path):
    """`course check` runs the lab in record mode: its checks are the grader's, not the learner's attempts."""
    checked = course("check", "--json", "solutions/00_warmup.ipynb")
    assert checked.returncode == 0, checked.stderr
    assert all(r["points"] == r["max_points"] for r in json.loads(checked.stdout))
    assert not progress_path.exists()


def test_the_progress_panel_shows_each_lab_with_a_word_not_only_a_colour(progress_path):
    panel = progress.progress_panel()
    table, refresh = panel.children
    assert "00_warmup" in table.value and "· not started" in table.value
    progress_path.write_text("".join(json.dumps(entry(e, 3)) + "\n" for e in progress.labs()["00_warmup"]))
    refresh.click()
    assert "✓ done" in table.value and "next: start exercises/01_data_quality.ipynb" in table.value
