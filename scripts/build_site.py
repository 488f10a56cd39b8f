"""Build the course site: every lesson with its outputs, readable in a browser without installing anything.

    make site                                     # the same as:
    .venv/bin/python scripts/build_site.py        # -> build/site/index.html

1. **One execution per lesson.** Each lesson of ``notebooks/`` is executed headless, unless
   ``build/executed/`` already holds it executed from the same cells with the same ``course_utils`` (by
   content). The lesson test of ``tests/test_notebooks.py`` keeps every lesson it runs there, so after
   ``make test`` the site costs no execution at all.
2. **Static pages.** The executed notebooks are staged for Sphinx + MyST-NB (execution off): an explorer
   shows the static copy its display carries (its first frame, with alt text built from its numbers
   and its caption, see ``course_utils/widgets/base.py``); other widgets (progress bars, the progress
   panel) are drawn from the widget state saved with the notebook; the install cell is hidden; links
   to labs open them on Colab; each page starts with its Binder and Colab launch links
   (``course_utils/online.py``).
3. **The course map is the landing page**: the table of README.md, its lessons linked to their pages.
4. ``sphinx-build -W`` writes ``build/site/`` (a broken link between pages fails the build). Everything
   the pages load is in the site (MathJax too): it reads offline, from any static file server.

Configuration: ``docs/site/conf.py``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from course_utils.notebooks import cells_digest, execute_notebook, notebook_text, read_notebook  # noqa: E402
from course_utils.online import BOOTSTRAP_ID, BRANCH, REPOSITORY, binder_url, colab_url  # noqa: E402

CONFIG = ROOT / "docs" / "site"
EXECUTED = ROOT / "build" / "executed"
OUT = ROOT / "build" / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
KEY = "course_site"  # notebook metadata: where an executed copy came from


def lessons(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


# -- 1. one execution per lesson ----------------------------------------------------------------------

def code_digest(root: Path = ROOT) -> str:
    """A digest of the course's code and data (every file of ``course_utils``, by content): a lesson's
    outputs may change when it does."""
    digest = hashlib.sha256()
    for path in sorted((root / "course_utils").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def keep_executed(executed: nbformat.NotebookNode, source: Path, folder: Path = EXECUTED) -> Path:
    """Save a lesson's executed notebook into ``folder`` (atomically), marked with its source's cells and the
    code it ran with."""
    nb = copy.deepcopy(executed)
    nb.metadata[KEY] = {"source": source.name, "cells": cells_digest(read_notebook(source)), "code": code_digest()}
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8") as handle:
        handle.write(notebook_text(nb))
    os.chmod(handle.name, 0o644)  # (a temporary file is private)
    os.replace(handle.name, target)  # atomic: a reader (another test process, make site) never sees half a file
    return target


def kept_executed(source: Path, folder: Path = EXECUTED, root: Path = ROOT) -> nbformat.NotebookNode | None:
    """The executed copy of ``source`` in ``folder`` if it is current: run from the same cells with the same
    ``course_utils``; otherwise None."""
    path = folder / source.name
    try:
        nb = read_notebook(path)
    except Exception:  # missing, or half-written by an older build
        return None
    kept = nb.metadata.get(KEY, {})
    if kept.get("cells") != cells_digest(read_notebook(source)) or kept.get("code") != code_digest(root):
        return None
    return nb


def executed_lessons(folder: Path = EXECUTED, log=print) -> dict[Path, nbformat.NotebookNode]:
    """Every lesson executed: the kept copy when it is current, else a fresh run (kept for next time)."""
    done = {}
    for source in lessons():
        nb = kept_executed(source, folder)
        if nb is None:
            result = execute_notebook(read_notebook(source), cwd=source.parent, timeout=600)
            if result.status != "ok":
                raise SystemExit(f"{source.relative_to(ROOT)}: {result.summary()}")
            log(f"executed {source.name} in {result.seconds:.1f} s")
            keep_executed(result.notebook, source, folder)
            nb = result.notebook
        else:
            log(f"reused {source.name} (executed by the tests or an earlier build)")
        done[source] = nb
    return done


# -- 2. static pages ----------------------------------------------------------------------------------

def static_widget(model_id: str, models: dict) -> str:
    """A widget drawn as static HTML from its saved state: boxes, HTML and labels, progress bars, and a
    control as its description and value. Anything else draws nothing.

    >>> models = {"bar": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 4, "description": ""}},
    ...           "text": {"model_name": "HTMLModel", "state": {"value": "3/4 [00:01]"}},
    ...           "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_bar", "IPY_MODEL_text"]}}}
    >>> static_widget("box", models)
    '<div style="display:flex;flex-flow:row wrap;gap:6px;align-items:center"><progress value="3" max="4">75%</progress><div>3/4 [00:01]</div></div>'
    """
    model = models.get(model_id)
    if model is None:
        return ""
    name, state = model.get("model_name", ""), model.get("state", {})
    if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
        direction = "row wrap" if name == "HBoxModel" else "column"
        children = "".join(static_widget(child.removeprefix("IPY_MODEL_"), models) for child in state.get("children", []))
        return f'<div style="display:flex;flex-flow:{direction};gap:6px;align-items:center">{children}</div>'
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{state.get('value', '')}</div>" if state.get("value") else ""
    if name == "LabelModel":
        return f"<div>{html.escape(str(state.get('value', '')))}</div>"
    if name in ("FloatProgressModel", "IntProgressModel"):
        value, top = state.get("value", 0), state.get("max", 100) or 100
        label = html.escape(state.get("description") or "")
        return (f"{label}<progress value=\"{value:g}\" max=\"{top:g}\">{100 * value / top:.0f}%</progress>")
    if "value" in state and state.get("description"):
        return f"<div>{html.escape(state['description'])} {html.escape(str(state['value']))}</div>"
    return ""


def staged_notebook(nb: nbformat.NotebookNode, source: Path) -> nbformat.NotebookNode:
    """An executed lesson as the site shows it (see the module's step 2)."""
    nb = copy.deepcopy(nb)
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.get("id") == BOOTSTRAP_ID:
            cell.setdefault("metadata", {}).setdefault("tags", []).append("remove-cell")
        if cell.cell_type == "markdown":
            cell.source = site_links(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                view = data.pop(WIDGET_VIEW)
                if "text/html" not in data:  # not an explorer: draw it from its saved state
                    drawn = static_widget(view.get("model_id", ""), models)
                    if drawn:
                        data["text/html"] = drawn
                    else:
                        output["data"] = {}
    nb.metadata.pop("widgets", None)  # no widget manager (from a CDN) on the site
    nb.metadata.pop(KEY, None)
    first = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"), -1)
    nb.cells.insert(first + 1, nbformat.v4.new_markdown_cell(launch_links(source)))
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    return nb


LAB_LINK = re.compile(r"\]\(\.\./(exercises/\d\d_\w+\.ipynb)\)")


def site_links(markdown: str) -> str:
    """Links to labs open them on Colab (links between lessons are links between pages as they are).

    >>> site_links("[lesson 04](04_losses.ipynb), [its lab](../exercises/04_losses.ipynb)") == (
    ...     f"[lesson 04](04_losses.ipynb), [its lab]({colab_url('exercises/04_losses.ipynb')})")
    True
    """
    return LAB_LINK.sub(lambda m: f"]({colab_url(m.group(1))})", markdown)


def repository_url(path: str) -> str:
    """A file of the repository, on GitHub (for the files that are not pages of the site)."""
    return f"{REPOSITORY}/blob/{BRANCH}/{path}"


def launch_links(source: Path) -> str:
    path = f"notebooks/{source.name}"
    return (f"*Run this lesson:* [on Binder]({binder_url(path)}) · [on Colab]({colab_url(path)}) · "
            f"or locally with `make lab`. This page shows it as it ran, outputs included; the explorers are "
            f"pictures of their first frame (move their controls in JupyterLab).")


# -- 3. the course map as the landing page ------------------------------------------------------------

def landing_page(readme: str, pages: list[str]) -> str:
    """The README's course map with its lessons linked to their pages and its labs to Colab."""
    section = re.search(r"^## Course map\n(.*?)(?=^## )", readme, re.S | re.M)
    if section is None:
        raise SystemExit("README.md has no '## Course map' section")
    body = section.group(1)
    body = re.sub(r"\]\(notebooks/(\w+\.ipynb)\)", r"](\1)", body)
    body = re.sub(r"\]\((exercises/\w+\.ipynb)\)", lambda m: f"]({colab_url(m.group(1))})", body)
    body = body.replace('src="docs/img/', 'src="_static/img/')
    # any other file of the repository: on GitHub
    body = re.sub(r"\]\((?!https?://|#)([^)\s]+)\)", lambda m: m.group(0) if m.group(1).endswith(".ipynb")
                  else f"]({repository_url(m.group(1))})", body)
    toctree = "\n".join(pages)
    return (f"# Training Deep Networks\n\n"
            f"A hands-on methodology course: the checks, habits and pitfalls that decide whether a network "
            f"trains well, each shown happening on real code, then fixed. These pages show every lesson as it "
            f"ran, with its outputs. To run the lessons and do the labs, open the course "
            f"[on Binder]({binder_url()}) or each notebook on Colab (links below and at the top of every "
            f"lesson), or install it: `make lab`.\n\n"
            f"## Course map\n{body}\n"
            f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toctree}\n```\n")


# -- 4. build -------------------------------------------------------------------------------------------

def stage(executed: dict[Path, nbformat.NotebookNode], into: Path) -> Path:
    """Write the site's sources (the staged lessons, the landing page, the screenshots) into ``into``."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    pages = []
    for source, nb in executed.items():
        (into / source.name).write_text(notebook_text(staged_notebook(nb, source)), encoding="utf-8")
        pages.append(source.stem)
    (into / "index.md").write_text(landing_page((ROOT / "README.md").read_text(encoding="utf-8"), pages),
                                   encoding="utf-8")
    return into


def build(executed: dict[Path, nbformat.NotebookNode], out: Path = OUT, sources: Path | None = None,
          quiet: bool = True) -> Path:
    """Stage the lessons and run Sphinx; returns ``out`` (open ``out/index.html``)."""
    sources = sources or out.parent / f"{out.name}-sources"
    stage(executed, sources)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-c", str(CONFIG),
               str(sources), str(out)] + (["-q"] if quiet else [])
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sphinx-build failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    # the explorers' screenshots of the course map (raw HTML there: Sphinx does not copy them)
    shutil.copytree(ROOT / "docs" / "img", out / "_static" / "img", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("dark"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the site goes (default build/site)")
    parser.add_argument("--executed", type=Path, default=EXECUTED,
                        help="executed lessons to reuse and keep (default build/executed)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    executed = executed_lessons(args.executed)
    ran = time.perf_counter()
    build(executed, args.out)
    print(f"site: {args.out / 'index.html'} ({len(executed)} lessons; executing {ran - start:.0f} s, "
          f"building {time.perf_counter() - ran:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
