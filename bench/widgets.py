"""Widget latency: for every explorer, the time from a control change to the redrawn figure.

    .venv/bin/python bench/widgets.py [--kernel-only] [--moves N] [LESSON ...]

Two measurements, both generic (nothing to register when a lesson or a widget is added):

* kernel side, in this process: every explorer factory of ``course_utils/widgets/<topic>.py``
  (a public function annotated ``-> Explorer`` or named ``*_explorer``) that can be called without
  arguments is built, and each of its controls is stepped through several values (sliders: evenly
  spaced from min to max; dropdowns and buttons: every option; checkboxes: both states), each
  step timed by ``explorer.last_update_ms`` (compute + render + PNG);
* in the browser: every lesson of ``notebooks/`` is run in JupyterLab in a headless Chromium
  (the harness of ``tests/browser``), and each enabled control of each explorer is moved ``--moves``
  times as a learner would (arrow keys on a slider's handle, the next option of a dropdown, a click),
  timing in the page, with ``performance.now()``, the input event to the new image loaded. For the
  same redraws, the explorer's ``last_update_ms`` is read from the lesson's kernel ("in lesson"),
  which also covers explorers that need the lesson's data (or are defined in the notebook).

Each row of the first table is one explorer, with the median and the worst update in ms over all
its controls; the second table splits them per control. A widget is as slow as its slowest
control: its update time ("update ms") is the largest of the per-control medians, kernel or
browser side (the worst single update, on a shared machine mostly the neighbours' noise, is
printed too). The last line is ``widgets max_update_ms=<the largest update time of any widget>``.
Budget: 150 ms for every widget on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import pkgutil
import statistics
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from course_utils.cli import format_table  # noqa: E402

BUDGET_MS = 150.0
STEPS = 6  # values per slider, kernel side


@dataclass
class Row:
    name: str
    lessons: set[str] = field(default_factory=set)
    controls: list[str] = field(default_factory=list)
    # control -> update times in ms
    kernel: dict[str, list[float]] = field(default_factory=dict)  # in this process
    in_lesson: dict[str, list[float]] = field(default_factory=dict)  # last_update_ms in the lesson's kernel
    browser: dict[str, list[float]] = field(default_factory=dict)  # input event -> new image loaded, in the page
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, control: str, ms: float) -> None:
        getattr(self, kind).setdefault(control, []).append(ms)
        if control not in self.controls:
            self.controls.append(control)


def merged(samples: dict[str, list[float]]) -> list[float]:
    return [ms for values in samples.values() for ms in values]


# -- kernel side, in process -----------------------------------------------------

def factories():
    """(qualified name, function, required parameters) of every explorer factory in course_utils.widgets."""
    import course_utils.widgets as package
    from course_utils.widgets.base import Explorer

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}")
        except Exception as exc:  # a module being written: report it, measure the others
            yield info.name, None, f"import failed: {type(exc).__name__}: {exc}"
            continue
        for name, function in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(function) or function.__module__ != module.__name__:
                continue
            signature = inspect.signature(function)
            returns = signature.return_annotation
            if not (returns is Explorer or returns == "Explorer" or name.endswith("_explorer")):
                continue
            required = [p.name for p in signature.parameters.values()
                        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            yield f"{info.name}.{name}", function, required


def control_values(control) -> list:
    """Several values of an ipywidgets control, ending on its current value."""
    import ipywidgets as widgets
    import numpy as np

    current = control.value
    if hasattr(control, "index") and hasattr(control, "options"):  # dropdowns, toggle buttons, radio, selection slider
        if isinstance(control.index, tuple):
            return []
        return [("index", i) for i in range(len(control.options)) if i != control.index] + [("index", control.index)]
    if isinstance(control, widgets.FloatLogSlider):
        values = [control.base ** e for e in np.linspace(control.min, control.max, STEPS)]
    elif isinstance(control, (widgets.IntSlider, widgets.BoundedIntText)):
        values = sorted({int(round(v)) for v in np.linspace(control.min, control.max, STEPS)})
    elif isinstance(control, (widgets.FloatSlider, widgets.BoundedFloatText)):
        values = list(np.linspace(control.min, control.max, STEPS))
    elif isinstance(current, bool):
        values = [not current]
    else:
        return []
    return [("value", v) for v in values if v != current] + [("value", current)]


def kernel_side(rows: dict[str, Row], log) -> None:
    for name, factory, required in factories():
        row = rows.setdefault(name, Row(name))
        if factory is None:
            row.notes.append(required)
            continue
        if required:
            row.notes.append(f"needs {', '.join(required)}: measured in its lesson only")
            continue
        log(f"  kernel: {name}")
        try:
            explorer = factory()
        except Exception as exc:
            row.notes.append(f"{name}() failed: {type(exc).__name__}: {exc}")
            continue
        for key, control in explorer.controls.items():
            for attribute, value in control_values(control):
                before = explorer.last_update_ms
                setattr(control, attribute, value)
                if explorer.last_update_ms != before:  # a redraw happened
                    row.add("kernel", key, explorer.last_update_ms)


# -- in the browser ---------------------------------------------------------------

PROBE = r'''
def _course_bench_find(pairs):
    """The Explorer drawing the j-th image of each displayed widget (model id, j)."""
    import gc
    import ipywidgets
    from course_utils.widgets.base import Explorer
    try:
        from ipywidgets.widgets.widget import _instances as instances
    except ImportError:
        instances = ipywidgets.Widget.widgets
    by_image = {id(obj.image): obj for obj in gc.get_objects() if isinstance(obj, Explorer)}

    def images(widget):
        if isinstance(widget, ipywidgets.Image):
            yield widget
        for child in getattr(widget, "children", None) or ():
            yield from images(child)

    found = []
    for model_id, j in pairs:
        root = instances.get(model_id)
        shown = list(images(root)) if root is not None else []
        found.append(by_image.get(id(shown[j])) if j < len(shown) else None)
    return found


def _course_bench_name(explorer):
    if explorer is None:
        return None
    module = getattr(explorer._update, "__module__", "") or ""
    qualname = getattr(explorer._update, "__qualname__", "") or ""
    if module.startswith("course_utils.widgets.") and ".<locals>" in qualname:
        return module.rsplit(".", 1)[-1] + "." + qualname.split(".<locals>")[0]
    return None
'''


def browser_side(rows: dict[str, Row], lessons: list[Path], moves: int, log) -> None:
    from browser.lab import Browser, JupyterLab

    with JupyterLab() as lab, Browser() as browser:
        for path in lessons:
            notebook = path.relative_to(ROOT).as_posix()
            log(f"  browser: {notebook}")
            with browser.open_lesson(lab, notebook) as lesson:
                lesson.run_all()
                errors = lesson.errors()
                if errors:
                    rows.setdefault(path.stem, Row(path.stem)).notes.append(f"lesson failed: {errors[0][:200]}")
                    continue
                lesson.widget_views(lesson.widget_outputs())
                explorers = lesson.explorers()
                model_ids = lesson.widget_model_ids()
                lesson.kernel_eval(PROBE + "\n_course_bench = _course_bench_find(%r)" % (
                    [[model_ids[e.output], e.image] for e in explorers],))
                names = lesson.kernel_eval("", {"names": "[_course_bench_name(e) for e in _course_bench]",
                                                "found": "[e is not None for e in _course_bench]"})
                names, found = ast.literal_eval(names["names"]), ast.literal_eval(names["found"])
                for explorer, name, known in zip(explorers, names, found):
                    name = name or f"{path.stem}: notebook explorer ({', '.join(explorer.keys) or explorer.index})"
                    row = rows.setdefault(name, Row(name))
                    row.lessons.add(path.stem)
                    measure_explorer(lesson, explorer, row, moves, known)
                if lesson.callback_errors():
                    rows.setdefault(path.stem, Row(path.stem)).notes.append(
                        "exception in a widget callback: " + lesson.callback_errors()[0][-200:])


def measure_explorer(lesson, explorer, row: Row, moves: int, known: bool) -> None:
    # The state line names the controls in the order they are shown.
    names = explorer.keys if len(explorer.keys) == len(explorer.controls) else [c.label for c in explorer.controls]
    for control, name in zip(explorer.controls, names):
        if control.disabled:
            continue
        if control.kind == "slider":
            directions = [1] * (moves // 2) + [-1] * (moves - moves // 2)
        elif control.kind == "checkbox":
            directions = [1, 1]
        else:  # every option once, back to the lesson's setting
            count = lesson.page.locator(f'{explorer.selector} [data-course-control="{control.index}"]').locator(
                "option, button, input").count()
            directions = [1] * max(count, 2)
        sign = 1
        for direction in directions:
            move = lesson.move(explorer, control, direction=direction * sign)
            if control.kind == "slider" and move.direction != direction * sign:
                sign = -sign  # hit the end of the slider: go on the other way
            if not move.changed:
                continue
            row.add("browser", name, move.ms)
            if known:
                row.add("in_lesson", name, float(lesson.kernel_eval(
                    "", {"ms": f"_course_bench[{explorer.index}].last_update_ms"})["ms"]))


# -- report -------------------------------------------------------------------------

def stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} / {max(values):.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", type=Path, help="lessons to run in the browser (default: notebooks/*)")
    parser.add_argument("--kernel-only", action="store_true", help="skip the browser measurement")
    parser.add_argument("--moves", type=int, default=6, help="moves per slider in the browser (default 6)")
    args = parser.parse_args()
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731

    rows: dict[str, Row] = {}
    kernel_side(rows, log)
    if not args.kernel_only:
        from browser.lab import missing_requirement

        missing = missing_requirement()
        if missing:
            print(f"bench/widgets.py: cannot measure in the browser: {missing}", file=sys.stderr)
            return 2
        lessons = [p.resolve() for p in args.lessons] or sorted((ROOT / "notebooks").glob("*.ipynb"))
        try:
            browser_side(rows, lessons, args.moves, log)
        except Exception:
            traceback.print_exc()
            return 1

    table, detail, worst, slow = [], [], 0.0, []
    for row in sorted(rows.values(), key=lambda r: (sorted(r.lessons) or ["~"], r.name)):
        samples = [merged(row.kernel), merged(row.in_lesson), merged(row.browser)]
        # A widget is as slow as its slowest control: the median update of each control, on each side.
        medians = [statistics.median(values) for side in (row.kernel, row.in_lesson, row.browser)
                   for values in side.values() if values]
        update = max(medians) if medians else None
        if update is not None:
            worst = max(worst, update)
            if update > BUDGET_MS:
                slow.append(row.name)
        table.append([row.name, ", ".join(sorted(row.lessons)) or "-", ", ".join(row.controls) or "-",
                      *map(stats, samples), f"{update:.0f}" if update is not None else "-", "; ".join(row.notes)])
        for control in row.controls:
            detail.append([row.name, control, stats(row.kernel.get(control, [])),
                           stats(row.in_lesson.get(control, [])), stats(row.browser.get(control, []))])
    print(format_table(["widget", "lesson", "controls", "kernel ms (median / max)",
                        "in lesson ms", "browser ms", "update ms", "note"], table))
    print("\nper control:")
    print(format_table(["widget", "control", "kernel ms", "in lesson ms", "browser ms"], detail))
    print(f"\nupdate ms = the largest median update of any control of the widget, on any side. kernel: this "
          f"process, {STEPS} values per slider, every option; in lesson: explorer.last_update_ms in the lesson's kernel for the browser's moves; browser: input "
          f"event -> new image loaded. cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}. Budget {BUDGET_MS:.0f} ms"
          + (f"; over budget: {', '.join(slow)}" if slow else ""))
    print(f"widgets max_update_ms={worst:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
