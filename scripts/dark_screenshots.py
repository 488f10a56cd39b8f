"""The dark-theme screenshots in docs/img/dark/: three check panels (passed, failed with its hint, an error)
and an explorer, as JupyterLab's dark theme shows them.

    .venv/bin/python scripts/dark_screenshots.py      # needs `make test`'s install and Chromium

Deterministic: a fixed notebook (``CELLS``; the explorer is seeded), a fixed window, the same crop; a file is
rewritten only when its pixels change. The browser suite runs the same notebook in the same theme
(tests/browser/test_accessibility.py: every text readable, every mark named in words) and retakes the
screenshots there with :func:`take`, so they follow the panels and explorers as they change.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the browser harness: tests/browser/lab.py

DARK = "JupyterLab Dark"
FOLDER = ROOT / "docs" / "img" / "dark"
SHOTS = ("check_panels.png", "explorer.png")  # what take() writes, in FOLDER

CELLS = [
    "import math\n"
    "from course_utils.checks import check\n"
    "check('init.he_std', lambda fan_in: math.sqrt(2 / fan_in))",   # passes
    "check('init.he_std', lambda fan_in: math.sqrt(1 / fan_in))",   # fails, with a hint
    "check('init.he_std', lambda fan_in: 1 / 0)",                   # raises
    "from course_utils.widgets import activation_explorer\n"
    "activation_explorer()",
]


def take(lesson, folder: Path = FOLDER) -> list[Path]:
    """Photograph the notebook of ``CELLS``, run in ``lesson`` (tests/browser/lab.py's Lesson): the three
    check cells with their panels, and the explorer. Returns the files written (those whose pixels changed)."""
    from tests.browser.lab import save_png

    page = lesson.page
    page.mouse.move(0, 0)
    checks = page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(".course-check"))
    checks.first.scroll_into_view_if_needed()
    boxes = [checks.nth(index).bounding_box() for index in range(checks.count())]
    left, top = min(box["x"] for box in boxes), min(box["y"] for box in boxes)
    right = max(box["x"] + box["width"] for box in boxes)
    bottom = max(box["y"] + box["height"] for box in boxes)
    clip = {"x": round(left), "y": round(top), "width": round(right - left), "height": round(bottom - top)}
    panels = page.screenshot(clip=clip, animations="disabled", caret="hide")
    (explorer,) = lesson.explorers()
    figure = lesson.screenshot(explorer)
    written = []
    for name, png in zip(SHOTS, (panels, figure)):
        if save_png(png, folder / name, border=None):
            written.append(folder / name)
    return written


def main() -> int:
    from tests.browser.lab import Browser, JupyterLab
    from tests.browser.test_lessons import run_and_check_cells, write_notebook

    with JupyterLab(theme=DARK) as lab, Browser() as browser:
        with browser.open_lesson(lab, write_notebook(lab, "dark_theme.ipynb", CELLS)) as lesson:
            run_and_check_cells(lesson)
            written = take(lesson)
    print("\n".join(str(path.relative_to(ROOT)) for path in written) or "docs/img/dark/: no pixel changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
