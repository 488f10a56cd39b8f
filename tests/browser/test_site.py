"""The course site (``make site``, scripts/build_site.py), built from the lessons' one execution of this test
session (the lesson test runs them: conftest.lesson_run) and opened in a headless Chromium from a local
server: every page renders, loads nothing from elsewhere (it reads offline), has no broken link, and shows
every explorer's first frame with its alt text and caption; the course map is the landing page.
"""

from __future__ import annotations

import functools
import html
import re
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from conftest import LESSONS, lesson_run, site_builder
from course_utils import online

# In the process that ran the lessons (pytest-xdist --dist loadgroup): the site is built from those runs.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("lessons")]

EXPLORER = 'class="course-explorer"'
# Links that leave the site: opened by the reader, never fetched here (offline).
ELSEWHERE = ("colab.research.google.com", "mybinder.org", "github.com", "www.sphinx-doc.org", "alabaster.readthedocs.io")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    executed = {}
    for path in LESSONS:
        result, _ = lesson_run(path)
        assert result.status == "ok", f"{path.name} did not run: {result.summary()}"
        executed[path] = result.notebook
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.perf_counter()
    site_builder().build(executed, out)
    print(f"site built in {time.perf_counter() - start:.1f} s")
    return out


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def explorer_alts(nb) -> list[str]:
    """The alt text of every explorer's static copy in an executed notebook, in order."""
    return [html.unescape(re.search(r'alt="([^"]*)"', output["data"]["text/html"]).group(1))
            for cell in nb.cells for output in cell.get("outputs", [])
            if EXPLORER in output.get("data", {}).get("text/html", "")]


def visit(browser, url: str) -> dict:
    """Open ``url``; return what the page holds and everything that went wrong while loading it."""
    context = browser.browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    problems, origin = [], urlparse(url).netloc

    def route(request_route):
        if urlparse(request_route.request.url).netloc not in (origin, ""):
            problems.append(f"loads from elsewhere: {request_route.request.url}")
            return request_route.abort()
        return request_route.continue_()

    page.route("**/*", route)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("response", lambda response: problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400 else None)
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        found = page.evaluate("""() => ({
            title: (document.querySelector('h1') || {}).textContent || '',
            text: (document.querySelector('div.body') || document.body).innerText.length,
            links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
            ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
            images: Array.from(document.querySelectorAll('img')).map(img => ({
                src: img.src.slice(0, 80), loaded: img.complete && img.naturalWidth > 0})),
            explorers: Array.from(document.querySelectorAll('figure.course-explorer')).map(f => ({
                alt: f.querySelector('img').alt, loaded: f.querySelector('img').naturalWidth > 0,
                caption: (f.querySelector('figcaption code') || {}).textContent || ''})),
        })""")
    finally:
        context.close()
    return {**found, "problems": problems}


@pytest.fixture(scope="module")
def pages(served, browser) -> dict[str, dict]:
    """Every page reachable from the landing page, visited once: {path: what visit() found}."""
    seen: dict[str, dict] = {}
    queue = ["/index.html"]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen[path] = visit(browser, served + path)
        for link in seen[path]["links"]:
            target = urlparse(urldefrag(link)[0])
            if target.netloc == urlparse(served).netloc and target.path.endswith(".html"):
                queue.append(target.path)
    return seen


def test_the_course_map_is_the_landing_page(pages):
    home = pages["/index.html"]
    assert home["title"].startswith("Training Deep Networks")
    links = set(home["links"])
    for lesson in LESSONS:
        assert any(link.endswith(f"/{lesson.stem}.html") for link in links), f"the course map misses {lesson.stem}"
        assert online.colab_url(f"notebooks/{lesson.name}") in links
    for lab in sorted((LESSONS[0].parents[1] / "exercises").glob("*.ipynb")):
        assert online.colab_url(f"exercises/{lab.name}") in links, f"the course map misses lab {lab.stem} on Colab"
    assert online.binder_url() in links
    assert all(image["loaded"] for image in home["images"]), home["images"]


def test_every_page_renders_offline_without_a_broken_link(site, pages):
    lesson_pages = {f"/{lesson.stem}.html" for lesson in LESSONS}
    assert lesson_pages <= set(pages), f"pages not reachable from the course map: {lesson_pages - set(pages)}"
    for path, page in pages.items():
        assert not page["problems"], f"{path}: {page['problems']}"
        assert page["title"].strip() and page["text"] > 100, f"{path}: an empty page"
        assert all(image["loaded"] for image in page["images"]), f"{path}: images not shown: " + str(
            [image for image in page["images"] if not image["loaded"]])
        for link in page["links"]:
            url, fragment = urldefrag(link)
            target = urlparse(url)
            if target.scheme in ("http", "https") and target.hostname != "127.0.0.1":
                assert target.scheme == "https" and target.hostname in ELSEWHERE, f"{path}: a link to {link}"
                continue
            assert target.scheme == "http", f"{path}: a link to {link}"
            file = site / unquote(target.path).lstrip("/")
            assert file.is_file(), f"{path}: a broken link to {link}"
            if fragment and file.suffix == ".html":
                ids = pages[target.path]["ids"] if target.path in pages else re.findall(r'id="([^"]+)"', file.read_text())
                assert unquote(fragment) in ids, f"{path}: a link to a missing anchor {link}"


def test_every_explorer_shows_its_first_frame_with_alt_text(pages):
    for lesson in LESSONS:
        page = pages[f"/{lesson.stem}.html"]
        wanted = explorer_alts(lesson_run(lesson)[0].notebook)
        assert wanted, f"{lesson.name}: no explorer with a static copy in the executed lesson"
        shown = page["explorers"]
        assert [explorer["alt"] for explorer in shown] == wanted, f"{lesson.stem}.html: explorers missing"
        for explorer in shown:
            assert explorer["loaded"], f"{lesson.stem}.html: an explorer's image is not shown"
            assert explorer["alt"].startswith("Figure") and "Settings: " in explorer["alt"], explorer["alt"]
            assert explorer["caption"] and explorer["caption"] in explorer["alt"], explorer
        binder, colab = online.binder_url(f"notebooks/{lesson.name}"), online.colab_url(f"notebooks/{lesson.name}")
        assert binder in page["links"] and colab in page["links"], f"{lesson.stem}.html: no launch links"


def test_widgets_without_a_static_copy_are_drawn_from_their_state():
    builder = site_builder()
    models = {"bar": {"model_name": "FloatProgressModel", "state": {"value": 20.0, "max": 20.0, "description": ""}},
              "left": {"model_name": "HTMLModel", "state": {"value": "training: 100%"}},
              "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar"]}},
              "slider": {"model_name": "IntSliderModel", "state": {"value": 3, "description": "depth"}}}
    drawn = builder.static_widget("box", models)
    assert "training: 100%" in drawn and '<progress value="20" max="20">' in drawn
    assert builder.static_widget("slider", models) == "<div>depth 3</div>"
    assert builder.static_widget("missing", models) == ""


def test_an_executed_lesson_is_reused_only_with_the_same_cells_and_code(tmp_path):
    builder = site_builder()
    source = LESSONS[0]
    kept = builder.keep_executed(builder.read_notebook(source), source, tmp_path)
    assert kept == tmp_path / source.name and not list(tmp_path.glob("*.tmp")), "written in one step"
    assert builder.kept_executed(source, tmp_path) is not None
    changed = tmp_path / "changed" / source.name
    changed.parent.mkdir()
    nb = builder.read_notebook(source)
    nb.cells[-1].source += "\n# one more line"
    changed.write_text(builder.notebook_text(nb))
    assert builder.kept_executed(changed, tmp_path) is None, "the lesson's cells changed: run it again"
    older = builder.read_notebook(kept)
    older.metadata[builder.KEY]["code"] = "another course_utils"
    kept.write_text(builder.notebook_text(older))
    assert builder.kept_executed(source, tmp_path) is None, "course_utils changed: run it again"
