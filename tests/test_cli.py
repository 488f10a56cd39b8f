"""The `course` command: help, clear one-line errors, exit codes, and the run table."""

import json

import pytest

from conftest import ROOT, course, lab_totals


@pytest.mark.parametrize("command", ["lab", "run", "check", "release"])
def test_every_command_has_help(command):
    result = course(command, "--help")
    assert result.returncode == 0 and "usage: course" in result.stdout


def test_missing_path_is_a_one_line_error():
    result = course("check", "exercises/99_nothing.ipynb")
    assert result.returncode == 2
    assert result.stderr.strip() == "course: error: exercises/99_nothing.ipynb: no such file"
    result = course("run", "nowhere/")
    assert result.returncode == 2 and result.stderr.strip() == "course: error: nowhere: no such file or folder"


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not valid JSON"),
    ('{"cells": [], "metadata": {}}', "no 'cells' or 'nbformat' field"),
    ('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "malformed notebook ("),
])
def test_malformed_notebook_is_a_one_line_error(tmp_path, content, reason):
    bad = tmp_path / "bad.ipynb"
    bad.write_text(content)
    for command in (["check", str(bad)], ["run", str(bad)]):
        result = course(*command)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert reason in result.stderr and str(bad) in result.stderr


def test_a_notebook_without_exercises_is_not_a_lab():
    result = course("check", "notebooks/00_start_here.ipynb")
    assert result.returncode == 2 and "not a lab" in result.stderr


def test_run_prints_a_table_and_fails_on_an_error(tmp_path):
    good = ROOT / "exercises" / "00_warmup.ipynb"
    result = course("run", str(good), "--timeout", "120")
    assert result.returncode == 1  # an untouched lab stops at its first NotImplementedError
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["notebook", "seconds", "status"]
    assert "exercises/00_warmup.ipynb" in lines[2] and "NotImplementedError" in lines[2]


def test_run_stops_a_notebook_at_its_time_limit(tmp_path):
    slow = tmp_path / "slow.ipynb"
    slow.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "a",
                                           "metadata": {}, "outputs": [], "source": "import time\ntime.sleep(60)"}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = course("run", str(slow), "--timeout", "5")
    assert result.returncode == 1
    assert "timeout: stopped after 5 s" in result.stdout
    seconds = float(result.stdout.splitlines()[2].split()[1])
    assert seconds < 30


def test_check_prints_a_table_with_totals():
    result = course("check", "solutions/00_warmup.ipynb")
    assert result.returncode == 0
    points = lab_totals(ROOT / "solutions" / "00_warmup.ipynb")[0]
    assert "start.accuracy" in result.stdout and f"total: {points:g}/{points:g} points" in result.stdout


def _warmup_with(tmp_path, sources: dict) -> str:
    """exercises/00_warmup.ipynb with some solution cells replaced, written to tmp_path."""
    import nbformat

    nb = nbformat.read(ROOT / "exercises" / "00_warmup.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    path = tmp_path / "00_warmup.ipynb"
    nbformat.write(nb, path)
    return str(path)


def test_check_reports_the_real_first_error_and_wraps_instead_of_cutting(tmp_path):
    notebook = _warmup_with(tmp_path, {
        "accuracy": "def accuracy(y_true, y_pred:\n    return 1",
        "majority_baseline": "def majority_baseline(y_train, y_test):\n    return [1, 2]"})
    result = course("check", notebook)
    assert result.returncode == 1  # a cell stopped with an error: the notebook did not run to its end
    assert "your cell" in result.stdout and "has a syntax error at line 1" in result.stdout
    assert "NameError" not in result.stdout and "Traceback" not in result.stdout
    sentence = "expected one number: the accuracy on y_test, between 0 and 1, got a list of 2 numbers"
    assert sentence in result.stdout
    assert "..." not in result.stdout  # labels and hints are wrapped, never cut
    data = json.loads(course("check", "--json", notebook).stdout)
    first, second = data[:2]  # the two exercises written here (the lab's decisions are left untouched)
    assert first["message"].startswith("your cell") and "syntax error" in first["message"]
    assert second["cases"][0]["message"] == sentence
    assert set(second["cases"][0]) == {"label", "status", "hidden", "got", "want", "message"}


def test_check_verbose_lists_passed_cases_too():
    quiet = course("check", "solutions/00_warmup.ipynb").stdout
    verbose = course("check", "--verbose", "solutions/00_warmup.ipynb").stdout
    assert "✓ y_true=" not in quiet and "✓ y_true=" in verbose
