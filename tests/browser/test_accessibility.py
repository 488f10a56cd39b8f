"""Check panels and explorers are readable in JupyterLab's light and dark themes, and say what they show
in words: every piece of their text has a contrast of at least 4.5 : 1 (WCAG AA) against what is behind
it, every mark of a check is a symbol named in words (colour never carries a result alone), an explorer's
figure carries its own opaque background and its picture is named by its numbers (the <img>'s title,
its accessible name). In the dark theme the screenshots of docs/img/dark/ are retaken
(scripts/dark_screenshots.py, which also takes them on its own), and the README shows them.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageStat

from conftest import script

from .lab import ROOT, JupyterLab
from .test_lessons import check_widget_views, page_kept_on_failure, run_and_check_cells, write_notebook

pytestmark = pytest.mark.browser

SCREENSHOTS = script("dark_screenshots")
DARK = SCREENSHOTS.DARK
PANELS_AND_EXPLORER = SCREENSHOTS.CELLS
AA = 4.5  # WCAG 2 level AA, normal text

# For every text node under the elements that match a selector: its colour (with its opacity and that of
# its ancestors) composed over the backgrounds behind it, and the contrast ratio of the two (WCAG 2).
JS_CONTRASTS = r"""
(selector) => {
  const parse = (c) => {
    const m = c && c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const behind = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode, el = node.parentElement;
      if (!node.textContent.trim() || !el.getClientRects().length) continue;
      let opacity = 1;
      for (let e = el; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
      const fg = parse(getComputedStyle(el).color);
      fg[3] *= opacity;
      const bg = behind(el), shown = over(fg, bg);
      const [hi, lo] = [luminance(shown), luminance(bg)].sort((a, b) => b - a);
      found.push({text: node.textContent.trim().slice(0, 60), ratio: (hi + 0.05) / (lo + 0.05),
                  color: shown.slice(0, 3).map(Math.round), background: bg.slice(0, 3).map(Math.round)});
    }
  }
  return found;
}
"""

# The explorers' pictures: loaded, opaque (the figure brings its own background), their mean brightness,
# and their title (the accessible name of an <img> without alt).
JS_FIGURES = r"""
() => Array.from(document.querySelectorAll('.widget-image')).map(img => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let transparent = 0, light = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] < 255) transparent++;
    if (pixels[i] + pixels[i + 1] + pixels[i + 2] > 600) light++;
  }
  return {width: img.naturalWidth, transparent, light: light / (pixels.length / 4), title: img.title};
})
"""


def readable(lesson, where: str) -> None:
    texts = lesson.evaluate(JS_CONTRASTS, ".course-check, .widget-vbox .widget-html-content")
    panels = lesson.evaluate("() => Array.from(document.querySelectorAll('.course-check')).map(e => e.textContent)")
    assert len(panels) == 3, f"{where}: expected three check panels, found {len(panels)}"
    assert all("points" in panel for panel in panels), panels
    # every text measured: the panels' (their headers, cases, answers, hints) and the explorer's caption
    measured = " ".join(text["text"] for text in texts)
    assert "fan_in=64" in measured and "expected" in measured and "depth=10" in measured, texts
    unreadable = [text for text in texts if text["ratio"] < AA]
    assert not unreadable, f"{where}: text below {AA}:1 contrast: {unreadable}"


def marks_in_words(lesson) -> None:
    marks = lesson.evaluate("""() => Array.from(document.querySelectorAll('.course-check [role=img]'))
                                  .map(el => [el.textContent, el.getAttribute('aria-label')])""")
    assert {tuple(mark) for mark in marks} >= {("✓", "passed"), ("✗", "failed"), ("✗", "error")}, marks


def figures_named_and_opaque(lesson, where: str) -> None:
    figures = lesson.evaluate(JS_FIGURES)
    assert len(figures) == 1 and figures[0]["width"] > 0, figures
    (figure,) = figures
    assert figure["transparent"] == 0, f"{where}: the explorer's figure has transparent pixels (unreadable on a dark page)"
    assert figure["light"] > 0.5, f"{where}: the explorer's figure is not drawn on its own light background"
    title = figure["title"]
    assert title.startswith("Figure: ") and "Settings: depth=10" in title and "vanishing" in title, title
    caption = lesson.kernel_eval("", {"text": "_.text.value"})  # the explorer is the last cell's value
    assert "vanishing" in caption["text"]


def check_notebook(lesson, where: str) -> None:
    run_and_check_cells(lesson)
    check_widget_views(lesson)
    readable(lesson, where)
    marks_in_words(lesson)
    figures_named_and_opaque(lesson, where)


def test_check_panels_and_explorers_read_in_the_light_theme(jupyterlab, browser):
    notebook = write_notebook(jupyterlab, "zz_light.ipynb", PANELS_AND_EXPLORER)
    with browser.open_lesson(jupyterlab, notebook) as lesson, page_kept_on_failure(lesson, "light_theme"):
        check_notebook(lesson, "light theme")


def test_check_panels_and_explorers_read_in_the_dark_theme(browser_requirements, browser):
    with JupyterLab(theme=DARK) as lab:
        notebook = write_notebook(lab, "zz_dark.ipynb", PANELS_AND_EXPLORER)
        with browser.open_lesson(lab, notebook) as lesson, page_kept_on_failure(lesson, "dark_theme"):
            theme = lesson.evaluate("() => document.body.dataset.jpThemeName")
            assert theme == DARK, f"JupyterLab opened in the theme {theme!r}"
            check_notebook(lesson, "dark theme")
            SCREENSHOTS.take(lesson)


def test_the_dark_theme_screenshots_exist_and_the_readme_shows_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SCREENSHOTS.SHOTS:
        path = SCREENSHOTS.FOLDER / name
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run scripts/dark_screenshots.py"
        image = Image.open(io.BytesIO(path.read_bytes())).convert("L")
        assert image.width > 200 and image.height > 100, f"{name}: {image.size}"
        assert re.search(rf'src="{re.escape(str(path.relative_to(ROOT)))}"[^>]*alt="[^"]+"', readme), \
            f"the README does not show {path.relative_to(ROOT)} (with alt text)"
    panels = Image.open(SCREENSHOTS.FOLDER / "check_panels.png").convert("L")
    assert ImageStat.Stat(panels).mean[0] < 100, "check_panels.png is not the dark theme"
