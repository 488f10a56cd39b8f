"""Every lesson in notebooks/, in JupyterLab, in a headless Chromium: all cells run without an error,
every widget view renders (no "Error displaying widget"), and moving the controls of each explorer
redraws its figure (the image's bytes change) without an exception in the kernel. The first explorer
of each lesson is photographed into docs/img/<lesson>.png for the README's course map.

New lessons are picked up automatically: the list is read from notebooks/ when the tests are collected.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import in_ci
from .lab import INSTALL_HINT, ROOT, Lesson, find_chromium, missing_requirement, save_png

LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCREENSHOTS = ROOT / "docs" / "img"
SLOW_MS = 2000  # a figure that takes seconds to follow a slider has failed the learner

pytestmark = pytest.mark.browser


def run_and_check_cells(lesson: Lesson) -> None:
    finished = lesson.run_all()
    errors = lesson.errors()
    assert not errors, f"{lesson.notebook}: a cell failed in JupyterLab:\n" + "\n\n".join(errors)
    assert finished, f"{lesson.notebook}: Run All Cells stopped early"
    assert not lesson.not_run(), f"{lesson.notebook}: cells {lesson.not_run()} did not run"


def check_widget_views(lesson: Lesson) -> None:
    views = lesson.widget_views(lesson.widget_outputs())
    broken = [view for view in views if view["error"] or not view["rendered"] or view["blank_images"]]
    assert not broken, (f"{lesson.notebook}: widget views not rendered: {broken}\n"
                        + "\n".join(error[:500] for error in lesson.page_errors()))


@contextmanager
def page_kept_on_failure(lesson: Lesson, name: str):
    """On a failed check, save what the browser showed and say where."""
    try:
        yield
    except AssertionError as failure:
        path = Path(tempfile.gettempdir()) / "course-browser-failures" / f"{name}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lesson.page.screenshot(path=str(path), full_page=True)
        except Exception:
            raise failure from None
        raise AssertionError(f"{failure}\n(the page at the failure: {path})") from None


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_in_jupyterlab(jupyterlab, browser, path):
    notebook = path.relative_to(ROOT).as_posix()
    with browser.open_lesson(jupyterlab, notebook) as lesson, page_kept_on_failure(lesson, path.stem):
        run_and_check_cells(lesson)
        check_widget_views(lesson)
        explorers = lesson.explorers()
        assert explorers, (f"{notebook}: no explorer (a widget with an image and a slider, dropdown, checkbox "
                           f"or buttons) rendered; every lesson has at least one")

        # The main (first) explorer as the course map shows it, before anything is moved.
        save_png(lesson.screenshot(explorers[0]), SCREENSHOTS / f"{path.stem}.png")

        for explorer in explorers:
            where = f"{notebook}, explorer {explorer.index} ({explorer.describe()})"
            moves = []
            for control in explorer.controls:
                if control.disabled:
                    continue
                moves.append(lesson.move(explorer, control))
                if moves[-1].changed:  # and back, so that the next control starts from the lesson's settings
                    moves.append(lesson.move(explorer, control, direction=-moves[-1].direction))
            raised = lesson.callback_errors()
            assert not raised, f"{where}: moving a control raised in the kernel:\n" + "\n\n".join(raised)
            assert moves, f"{where}: no enabled control"
            changed = [move for move in moves if move.changed]
            assert changed, f"{where}: the figure did not change when " + "; ".join(
                f"{m.control.kind} {m.control.label!r} got {m.action}" for m in moves)
            for move in moves:
                if not move.changed:
                    warnings.warn(f"{where}: {move.control.kind} {move.control.label!r} ({move.action}) "
                                  "left the figure unchanged")
            typical = statistics.median(move.ms for move in changed)
            assert typical <= SLOW_MS, f"{where}: takes {typical:.0f} ms to redraw: " + ", ".join(
                f"{m.control.label} {m.ms:.0f} ms" for m in changed)

        assert not lesson.page_errors(), f"{notebook}: errors in the page: {lesson.page_errors()}"


BROKEN_LESSON = [
    # A widget whose view cannot be created: JupyterLab shows "Error displaying widget".
    "import ipywidgets as widgets\n"
    "widgets.DOMWidget(_view_name='NoSuchView', _view_module='@jupyter-widgets/controls',\n"
    "                  _view_module_version='2.0.0')",
    # An explorer whose update raises as soon as its slider moves.
    "from course_utils.widgets import Explorer\n"
    "def setup(fig):\n"
    "    line, = fig.add_subplot().plot([0, 1], [0, 1])\n"
    "    return {'line': line}\n"
    "def update(artists, a):\n"
    "    if a != 1:\n"
    "        raise ValueError('update failed')\n"
    "Explorer({'a': widgets.IntSlider(value=1, min=0, max=5)}, setup, update)",
    # An explorer whose figure never changes.
    "Explorer({'b': widgets.IntSlider(value=1, min=0, max=5)}, setup, lambda artists, b: None)",
    "1 / 0",
]


EVERY_CONTROL = [
    "import ipywidgets as widgets\n"
    "import numpy as np\n"
    "from course_utils.widgets import Explorer\n"
    "controls = {\n"
    "    'slider': widgets.IntSlider(value=3, min=0, max=5),\n"
    "    'log': widgets.FloatLogSlider(value=1.0, min=-1, max=1, step=0.1),\n"
    "    'dropdown': widgets.Dropdown(options=['a', 'b', 'c']),\n"
    "    'select': widgets.Select(options=['d', 'e']),\n"
    "    'checkbox': widgets.Checkbox(value=False, description='on'),\n"
    "    'toggles': widgets.ToggleButtons(options=['f', 'g']),\n"
    "    'toggle': widgets.ToggleButton(value=False, description='toggle'),\n"
    "    'radio': widgets.RadioButtons(options=['h', 'i']),\n"
    "}\n"
    "def setup(fig):\n"
    "    ax = fig.add_subplot()\n"
    "    ax.set(xlim=(0, 7), ylim=(0, 1))\n"
    "    line, = ax.plot(range(8), np.zeros(8), 'o')\n"
    "    return {'line': line}\n"
    "def update(artists, **values):\n"
    "    # one point per control: its height follows the control's value (a stable code of it:\n"
    "    # hash() of a str changes from process to process, and two values may share it)\n"
    "    artists['line'].set_ydata([(sum(map(ord, str(v))) % 97) / 97 for v in values.values()])\n"
    "Explorer(controls, setup, lambda artists, **values: update(artists, **values))",
]


def write_notebook(lab, name: str, sources: list[str]) -> str:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
             for source in sources]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab.root / "notebooks" / name).write_text(json.dumps(notebook))
    return f"notebooks/{name}"


def test_every_kind_of_control_is_moved(jupyterlab, browser):
    """Sliders, dropdowns, select lists, checkboxes, toggle buttons and radio buttons are all found
    and moved, and each move is seen in the figure."""
    with browser.open_lesson(jupyterlab, write_notebook(jupyterlab, "zz_controls.ipynb", EVERY_CONTROL)) as lesson:
        run_and_check_cells(lesson)
        check_widget_views(lesson)
        (explorer,) = lesson.explorers()
        assert [c.kind for c in explorer.controls] == ["slider", "slider", "dropdown", "dropdown", "checkbox",
                                                       "toggle", "button", "radio"]
        for control in explorer.controls:
            forth = lesson.move(explorer, control)
            back = lesson.move(explorer, control, direction=-forth.direction)
            assert forth.changed and back.changed, (control, forth, back)
            assert 0 < forth.ms < 60_000
        assert lesson.kernel_eval("", {"state": "_.state"})["state"] == (
            "\"slider=3 log=1.0 dropdown='a' select='d' checkbox=False toggles='f' toggle=False radio='h'\"")
        assert not lesson.callback_errors()


def test_the_checks_catch_a_broken_lesson(jupyterlab, browser):
    """The suite's own checks are not vacuous: on a lesson made to fail, each one fires."""
    with browser.open_lesson(jupyterlab, write_notebook(jupyterlab, "zz_broken.ipynb", BROKEN_LESSON)) as lesson:
        with pytest.raises(AssertionError, match="ZeroDivisionError"):
            run_and_check_cells(lesson)
        with pytest.raises(AssertionError, match="Error displaying widget"):
            check_widget_views(lesson)
        assert any("NoSuchView" in error for error in lesson.page_errors())
        failing, frozen = lesson.explorers()
        assert not lesson.move(failing, failing.controls[0], timeout=3).changed
        assert any("update failed" in error for error in lesson.callback_errors())
        assert not lesson.move(frozen, frozen.controls[0], timeout=3).changed


def test_without_chromium_the_suite_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    assert find_chromium() is None
    message = missing_requirement()
    assert message is not None and "apt-get install chromium" in message and message.endswith(INSTALL_HINT)


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("false", False), ("true", True),
                                             ("1", True), ("yes", True)])
def test_ci_is_recognised(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected
