"""Drive the course's lessons in a real JupyterLab with Debian's Chromium (through Playwright).

Used by the browser tests (``tests/browser/``) and by ``bench/widgets.py``::

    with JupyterLab() as lab, Browser() as browser:
        lesson = browser.open_lesson(lab, "notebooks/03_initialization.ipynb")
        lesson.run_all()                     # every cell, waits for the kernel to be idle
        explorers = lesson.explorers()       # every widget with an image and controls
        move = lesson.move(explorers[0], explorers[0].controls[0])   # -> Move(changed, ms)

What is generic, so that every lesson in ``notebooks/`` is covered without a line of
configuration: an explorer is any rendered widget holding an ``<img>`` and at least one
control (slider, dropdown, checkbox, toggle buttons, radio buttons); it is found in the DOM
of the notebook's outputs after "Run All Cells".

JupyterLab is served from a scratch folder: ``notebooks/`` is *copied* there (so nothing a run
does, autosave included, can touch the committed notebooks) and every other top-level entry of
the project is a symbolic link, so relative paths in lessons still resolve. Its settings and
workspaces are fresh temporary folders: every notebook cell is attached to the DOM (windowing
mode "none", see jupyterlab#17815), autosave is off, nothing is fetched from the internet.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# -- Chromium ------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without the background-networking flags, Chromium tries to reach Google's services: slow
# (and refused) on an offline machine.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
    "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--font-render-hinting=none", "--hide-scrollbars",
]
INSTALL_HINT = ("the browser tests need Chromium: on Debian/Ubuntu `sudo apt-get install chromium` "
                "(.ci/run does it in CI), or point CHROMIUM=/path/to/chromium at any Chromium or Chrome build")


def find_chromium() -> str | None:
    """``$CHROMIUM``, or the first Chromium/Chrome on the PATH, or None."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is missing: install the dev extra (`make test` does)"
    if find_chromium() is None:
        return f"Chromium not found; {INSTALL_HINT}"
    return None


# -- JupyterLab ------------------------------------------------------------------

LAB_SETTINGS = {
    # Attach every cell to the DOM: in windowing mode "full", outputs outside the viewport are
    # detached and widgets vanish after scrolling (jupyterlab#17815).
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True,
                                               "kernelShutdown": True},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_root(project: Path, into: Path) -> Path:
    """A folder that looks like the project: ``notebooks/`` copied, everything else linked."""
    into.mkdir(parents=True, exist_ok=True)
    for entry in project.iterdir():
        if entry.name in ("notebooks", ".git", ".venv") or entry.name.startswith(".ipynb"):
            continue
        (into / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    shutil.copytree(project / "notebooks", into / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return into


class JupyterLab:
    """A JupyterLab server on a free local port with a random token, from this Python environment."""

    def __init__(self, project: Path = ROOT, python: str = sys.executable, start_timeout: float = 90,
                 theme: str | None = None):
        self.project = project
        self.theme = theme  # e.g. "JupyterLab Dark"; None: JupyterLab's default (light)
        self.python = python
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "JupyterLab":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="course-browser-")
        tmp = Path(self._tmp.name)
        self.root = scratch_root(self.project, tmp / "root")
        settings = tmp / "settings"
        chosen = dict(LAB_SETTINGS)
        if self.theme:
            chosen["@jupyterlab/apputils-extension/themes"] = {"theme": self.theme}
        for plugin, values in chosen.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("JUPYTER", "JPY_")) or key == "JUPYTER_PLATFORM_DIRS"}
        # No user configuration, kernels or runtime files from the home folder.
        # (The kernels inherit the rest of the environment, as they do under `make lab`.)
        env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
                   JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
        self.log_path = tmp / "jupyterlab.log"
        for attempt in range(3):  # a free port may be taken between free_port() and the bind
            self.port = free_port()
            command = [
                self.python, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
                "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
                "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.terminals_enabled=False",
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                command.append("--allow-root")
            log = open(self.log_path, "a")
            self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if self._wait_until_up():
                return
            self.stop(cleanup=False)
        log = self.log_tail()
        self.stop()
        raise RuntimeError(f"JupyterLab did not start; its log:\n{log}")

    def _wait_until_up(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        return False

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, cleanup: bool = True) -> None:
        """Shut the kernels and the server down (politely, then by force), remove the scratch folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                self.api("POST", "/api/shutdown")  # also shuts down every kernel
                process.wait(timeout=15)
            except Exception:
                pass
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait(timeout=10)
        if cleanup and self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


# -- The browser ---------------------------------------------------------------

class Browser:
    """Headless Chromium through Playwright's synchronous API."""

    def __init__(self, executable: str | None = None, viewport: tuple[int, int] = (1280, 1000)):
        self.executable = executable or find_chromium()
        self.viewport = viewport

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(executable_path=self.executable, headless=True,
                                                            args=CHROMIUM_ARGS, timeout=60_000)
        except Exception:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()

    def open_lesson(self, lab: JupyterLab, notebook: str, timeout: float = 120) -> "Lesson":
        """Open ``notebook`` (a path relative to the project, e.g. ``notebooks/00_start_here.ipynb``)
        in a fresh browser context and workspace, and wait for its kernel."""
        context = self.browser.new_context(viewport={"width": self.viewport[0], "height": self.viewport[1]},
                                           device_scale_factor=1, reduced_motion="reduce")
        page = context.new_page()
        lesson = Lesson(context, page, notebook)
        page.on("console", lambda message: lesson.console.append(f"{message.type}: {message.text}")
                if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: lesson.console.append(f"pageerror: {error}"))
        workspace = "w" + secrets.token_hex(4)
        page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={lab.token}",
                  timeout=timeout * 1000)
        try:
            lesson.wait_for_kernel(timeout)
        except Exception:
            lesson.close()
            raise
        return lesson


@dataclass
class Control:
    index: int
    kind: str  # slider, dropdown (or select list), checkbox, toggle (buttons), button (one toggle button), radio
    label: str
    disabled: bool


@dataclass
class ExplorerView:
    index: int
    output: int  # which widget output of the notebook (document order)
    controls: list[Control]
    keys: list[str] = field(default_factory=list)  # control names read from the state line, if any
    image: int = 0  # which <img> of its widget output (document order) is the figure

    @property
    def selector(self) -> str:
        return f'[data-course-explorer="{self.index}"]'

    def describe(self) -> str:
        return ", ".join(f"{c.kind} {c.label!r}" for c in self.controls)


@dataclass
class Move:
    control: Control
    action: str
    changed: bool  # the figure's pixels changed
    ms: float | None  # control event in the page -> new image loaded (None if it did not change)
    direction: int = 1  # the direction actually taken (a slider at its end goes back)


JS_HELPERS = r"""
(MIME) => {
  if (window.__course) return;
  const course = window.__course = {t0: null, armed: false, loads: {}};
  for (const type of ['keydown', 'pointerdown', 'mousedown', 'input', 'change', 'click']) {
    window.addEventListener(type, () => {
      if (course.armed && course.t0 === null) course.t0 = performance.now();
    }, true);
  }
  course.panel = () => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    return w && w.content && w.sessionContext ? w : null;
  };
  course.widgetNodes = () => {
    // The DOM node of every widget output, in document order (from the notebook model, so
    // that a view that failed to render is counted too).
    const nodes = [];
    for (const cell of course.panel().content.widgets) {
      if (!cell.outputArea) continue;
      const area = cell.outputArea, model = area.model;
      for (let i = 0; i < model.length; i++) {
        if (!(MIME in model.get(i).data)) continue;
        const child = area.widgets[i];
        const node = child && (child.node.matches('.jp-OutputArea-output') ? child.node
                                 : child.node.querySelector('.jp-OutputArea-output'));
        nodes.push(node || null);
      }
    }
    return nodes;
  };
  course.hash = async (img) => {
    if (!img || !img.src) return '';
    const buffer = await (await fetch(img.src)).arrayBuffer();
    if (crypto.subtle) {
      const digest = await crypto.subtle.digest('SHA-256', buffer);
      return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('');
    }
    const bytes = new Uint8Array(buffer);
    let h = 2166136261;
    for (let i = 0; i < bytes.length; i++) { h ^= bytes[i]; h = Math.imul(h, 16777619); }
    return bytes.length + ':' + (h >>> 0);
  };
}
"""

# What a learner can move: ipywidgets' sliders (all kinds), dropdowns and select lists, checkboxes,
# toggle buttons (a group or a single one) and radio buttons.
CONTROL_SELECTOR = (".widget-slider, .widget-dropdown, .widget-select, .widget-checkbox, .widget-toggle-buttons, "
                    ".widget-toggle-button, .widget-radio-box")

JS_CONTROLS = r"""
(root) => {
  // The controls of one explorer, in document order; each tagged with data-course-control.
  const selector = '%CONTROLS%';
  const found = [];
  for (const el of root.querySelectorAll(selector)) {
    if (found.some(parent => parent.contains(el))) continue;
    found.push(el);
  }
  return found.map((el, i) => {
    el.setAttribute('data-course-control', String(i));
    let kind = 'slider', disabled = false;
    if (el.matches('.widget-dropdown, .widget-select')) { kind = 'dropdown'; disabled = el.querySelector('select').disabled; }
    else if (el.matches('.widget-checkbox')) { kind = 'checkbox'; disabled = el.querySelector('input').disabled; }
    else if (el.matches('.widget-toggle-buttons')) {
      kind = 'toggle'; disabled = Array.from(el.querySelectorAll('button')).every(b => b.disabled);
    } else if (el.matches('.widget-toggle-button')) {
      kind = 'button'; disabled = el.disabled;
    } else if (el.matches('.widget-radio-box')) {
      kind = 'radio'; disabled = Array.from(el.querySelectorAll('input')).every(b => b.disabled);
    } else {
      const handle = el.querySelector('.noUi-handle');
      const target = el.querySelector('.noUi-target');
      disabled = !handle || (target && target.hasAttribute('disabled')) || handle.hasAttribute('disabled');
    }
    const labelEl = el.querySelector('.widget-label') || el.closest('.widget-inline-hbox')?.querySelector('.widget-label');
    const label = (labelEl && labelEl.textContent.trim()) || el.getAttribute('title') || kind;
    return {index: i, kind, label, disabled: !!disabled};
  });
}
""".replace("%CONTROLS%", CONTROL_SELECTOR)


class Lesson:
    """One notebook open in JupyterLab."""

    def __init__(self, context, page, notebook: str):
        self.context = context
        self.page = page
        self.notebook = notebook
        self.console: list[str] = []

    def close(self) -> None:
        """Shut the lesson's kernel down (closing the page would leave it running) and close the page."""
        try:
            self.page.evaluate("""async () => {
                const panel = window.__course && window.__course.panel();
                if (panel) await Promise.race([panel.sessionContext.shutdown(),
                                               new Promise(resolve => setTimeout(resolve, 10000))]);
            }""")
        except Exception:
            pass  # the page is gone already: the server shuts its kernels down when it stops
        self.context.close()

    def widget_model_ids(self) -> list[str]:
        """The model id of every widget output, in the order of :meth:`widget_outputs`."""
        return [output["data"][WIDGET_MIME]["model_id"] for cell in self.cells() for output in cell["outputs"]
                if WIDGET_MIME in output.get("data", {})]

    def kernel_eval(self, code: str, expressions: dict[str, str] | None = None, timeout: float = 60) -> dict:
        """Run ``code`` silently in the lesson's kernel (no cell, no history) and return the
        ``text/plain`` value of each of ``expressions``; raises on an error."""
        reply = self.page.evaluate("""async ([code, expressions, ms]) => {
            const kernel = window.__course.panel().sessionContext.session.kernel;
            const future = kernel.requestExecute({code, silent: true, store_history: false,
                                                  user_expressions: expressions, allow_stdin: false});
            const late = new Promise((_, reject) => setTimeout(() => reject(new Error(`no reply in ${ms} ms`)), ms));
            const reply = await Promise.race([future.done, late]);
            return reply.content;
        }""", [code, expressions or {}, timeout * 1000])
        if reply.get("status") != "ok":
            raise RuntimeError(f"kernel: {reply.get('ename')}: {reply.get('evalue')}")
        values = {}
        for name, value in reply.get("user_expressions", {}).items():
            if value.get("status") != "ok":
                raise RuntimeError(f"kernel: {name}: {value.get('ename')}: {value.get('evalue')}")
            values[name] = value["data"]["text/plain"]
        return values

    def callback_errors(self) -> list[str]:
        """Exceptions raised in the kernel by widget callbacks (not by cells) since the lesson opened."""
        return [strip_ansi(error)[-3000:] for error in self.evaluate("() => window.__course.callbackErrors")]

    def page_errors(self) -> list[str]:
        """Uncaught exceptions in the page, and errors logged by the widget manager."""
        return [line for line in self.console if line.startswith("pageerror:") or
                (line.startswith("error:") and "widget" in line.lower())]

    def __enter__(self) -> "Lesson":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def wait_for_kernel(self, timeout: float) -> None:
        """The notebook panel is open, its kernel started and idle."""
        self.page.wait_for_function(
            """(path) => {
                const app = window.jupyterapp;
                if (!app || !app.shell) return false;
                const w = app.shell.currentWidget;
                return !!(w && w.context && w.context.path === path && w.context.isReady && w.content);
            }""", arg=self.notebook, timeout=timeout * 1000, polling=100)
        self.evaluate(JS_HELPERS, WIDGET_MIME)
        self.page.wait_for_function(
            """() => {
                const w = window.__course.panel();
                const dialog = document.querySelector('.jp-Dialog');
                if (dialog) throw new Error('unexpected dialog: ' + dialog.innerText.slice(0, 300));
                const kernel = w && w.sessionContext.session && w.sessionContext.session.kernel;
                return !!(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
            }""", timeout=timeout * 1000, polling=100)
        # An exception in a widget callback (an explorer's update) is published by the kernel as an
        # "error" message whose parent is the widget's comm message, not a cell: JupyterLab only shows
        # it in its log console. Collect them.
        self.evaluate("""() => {
            const course = window.__course;
            course.callbackErrors = [];
            const kernel = course.panel().sessionContext.session.kernel;
            kernel.iopubMessage.connect((_, msg) => {
                const parent = msg.parent_header && msg.parent_header.msg_type;
                if (msg.header.msg_type === 'error' && parent !== 'execute_request') {
                    course.callbackErrors.push(`${msg.content.ename}: ${msg.content.evalue}\\n` +
                                               (msg.content.traceback || []).join("\\n"));
                }
            });
        }""")

    def run_all(self, timeout: float = 600) -> bool:
        """Run All Cells and wait until every queued cell ran and the kernel is idle. Returns
        JupyterLab's own verdict (False when a cell failed and the run stopped there)."""
        self.evaluate("""() => {
            window.__course.runAll = null;
            window.jupyterapp.commands.execute('notebook:run-all-cells').then(
                ok => { window.__course.runAll = {ok: ok !== false}; },
                error => { window.__course.runAll = {ok: false, error: String(error)}; });
        }""")
        self.page.wait_for_function(
            """() => {
                const dialog = document.querySelector('.jp-Dialog');
                if (dialog) throw new Error('unexpected dialog: ' + dialog.innerText.slice(0, 300));
                return window.__course.runAll !== null;
            }""", timeout=timeout * 1000, polling=200)
        self.wait_idle(timeout)
        result = self.evaluate("() => window.__course.runAll")
        if result.get("error"):
            raise RuntimeError(f"Run All Cells failed in JupyterLab: {result['error']}")
        return result["ok"]

    def wait_idle(self, timeout: float = 60, quiet_ms: int = 300) -> None:
        """The kernel has been idle, with no cell pending, for ``quiet_ms``."""
        self.page.wait_for_function(
            """(quiet) => {
                const w = window.__course.panel();
                const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
                const busy = !kernel || kernel.status !== 'idle' ||
                    Array.from(w.node.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('*'));
                const now = performance.now();
                if (busy) { window.__course.idleSince = null; return false; }
                if (window.__course.idleSince == null) window.__course.idleSince = now;
                return now - window.__course.idleSince >= quiet;
            }""", arg=quiet_ms, timeout=timeout * 1000, polling=50)

    def cells(self) -> list[dict]:
        """Every code cell: its index, execution count, source (first line) and outputs (as in .ipynb)."""
        return self.evaluate("""() => {
            const cells = window.__course.panel().content.model.cells;
            const out = [];
            for (let i = 0; i < cells.length; i++) {
                const cell = cells.get(i);
                if (cell.type !== 'code') continue;
                out.push({index: i, execution_count: cell.executionCount,
                          source: cell.sharedModel.getSource(), outputs: cell.outputs.toJSON()});
            }
            return out;
        }""")

    def errors(self) -> list[str]:
        """Every error output of the notebook, as readable text."""
        found = []
        for cell in self.cells():
            for output in cell["outputs"]:
                if output.get("output_type") == "error":
                    traceback = strip_ansi("\n".join(output.get("traceback", [])))
                    found.append(f"cell {cell['index']}: {output.get('ename')}: {output.get('evalue')}\n"
                                 f"{traceback[-2000:]}")
        return found

    def not_run(self) -> list[int]:
        return [cell["index"] for cell in self.cells()
                if cell["execution_count"] is None and cell["source"].strip()]

    def widget_outputs(self) -> int:
        """How many widget views the notebook's outputs hold (from the notebook model)."""
        return sum(WIDGET_MIME in output.get("data", {}) for cell in self.cells() for output in cell["outputs"])

    def widget_views(self, expected: int, timeout: float = 60) -> list[dict]:
        """Wait until ``expected`` widget outputs are in the DOM and none is still loading; return,
        for each, whether it rendered (a widget view, every image decoded) or its error text."""
        self.page.wait_for_function(
            """(expected) => {
                const nodes = window.__course.widgetNodes();
                if (nodes.length < expected) return false;
                return nodes.every(el => el &&
                    !el.textContent.startsWith('Loading widget') &&
                    (el.querySelector('.jupyter-widgets') || el.textContent.includes('Error displaying widget')) &&
                    Array.from(el.querySelectorAll('img')).every(img => !img.src || img.complete));
            }""", arg=expected, timeout=timeout * 1000, polling=100)
        return self.evaluate("""() => window.__course.widgetNodes().map((el, i) => {
            const images = Array.from(el.querySelectorAll('img'));
            // ipywidgets 8 draws a view that failed as an "error widget" (an icon; the message is
            // in its content); the renderer itself writes "Error displaying widget" when it cannot.
            const failed = el.querySelector('.jupyter-widgets-error-widget');
            const error = failed ? 'Error displaying widget: ' + failed.textContent.trim().slice(0, 300)
                : el.textContent.includes('Error displaying widget') ? el.textContent.trim().slice(0, 300) : null;
            return {index: i, error,
                    rendered: !!el.querySelector('.jupyter-widgets') && el.getBoundingClientRect().height > 0,
                    images: images.length,
                    blank_images: images.filter(img => !(img.src && img.naturalWidth > 0)).length};
        })""")

    def explorers(self) -> list[ExplorerView]:
        """Every explorer in the outputs: the innermost box holding an image and its controls."""
        found = self.evaluate("""(controlsScript) => {
            const controlsOf = eval(controlsScript);
            const outputs = window.__course.widgetNodes();
            for (const el of document.querySelectorAll('[data-course-explorer]')) el.removeAttribute('data-course-explorer');
            const result = [];
            const controlSelector = '%CONTROLS%';
            outputs.forEach((output, outputIndex) => {
                if (!output) return;
                Array.from(output.querySelectorAll('img')).forEach((img, imageIndex) => {
                    let root = img.parentElement;
                    while (root && root !== output && !root.querySelector(controlSelector)) root = root.parentElement;
                    if (!root || !root.querySelector(controlSelector)) return;
                    if (root.hasAttribute('data-course-explorer')) return;  // several images in one explorer
                    const index = result.length;
                    root.setAttribute('data-course-explorer', String(index));
                    img.setAttribute('data-course-image', String(index));
                    const code = Array.from(root.querySelectorAll('code')).map(c => c.textContent).join(' ');
                    const keys = Array.from(code.matchAll(/(?:^|\\s)([A-Za-z_][A-Za-z_0-9]*)=/g)).map(m => m[1]);
                    result.push({index, output: outputIndex, image: imageIndex, controls: controlsOf(root), keys});
                });
            });
            return result;
        }""".replace("%CONTROLS%", CONTROL_SELECTOR), JS_CONTROLS)
        explorers = [ExplorerView(e["index"], e["output"], [Control(**c) for c in e["controls"]], e["keys"], e["image"])
                     for e in found]
        self.evaluate("""() => {
            for (const img of document.querySelectorAll('img[data-course-image]')) {
                const index = img.getAttribute('data-course-image');
                if (img.__courseWatched) continue;
                img.__courseWatched = true;
                img.addEventListener('load', () => {
                    const loads = window.__course.loads;
                    loads[index] = {count: ((loads[index] || {}).count || 0) + 1, t: performance.now(), src: img.src};
                });
            }
        }""")
        return explorers

    def image_hash(self, explorer: ExplorerView) -> str:
        return self.evaluate("(sel) => window.__course.hash(document.querySelector(sel))",
                             f'img[data-course-image="{explorer.index}"]')

    def control_value(self, explorer: ExplorerView, control: Control) -> str:
        return self.evaluate("""(sel) => {
            const el = document.querySelector(sel);
            const select = el.querySelector('select');
            if (select) return select.value;
            const readout = el.querySelector('.widget-readout');
            const handle = el.querySelector('.noUi-handle');
            const checked = Array.from(el.querySelectorAll('input')).map(i => i.checked ? '1' : '0').join('');
            const buttons = el.matches('button') ? [el] : Array.from(el.querySelectorAll('button'));
            const active = buttons.map(b => b.classList.contains('mod-active') ? '1' : '0').join('');
            return [readout && readout.textContent, handle && handle.getAttribute('aria-valuenow'), checked, active].join('|');
        }""", f'{explorer.selector} [data-course-control="{control.index}"]')

    def move(self, explorer: ExplorerView, control: Control, direction: int = 1, timeout: float = 15) -> Move:
        """Change ``control`` as a learner would (a key press on a slider's handle, another option
        of a dropdown, a click), wait for the figure to be redrawn, and time it in the page."""
        page = self.page
        locator = page.locator(f'{explorer.selector} [data-course-control="{control.index}"]')
        if self.control_disabled(explorer, control):  # another control may have disabled it
            return Move(control, "none (disabled)", False, None)
        before_hash = self.image_hash(explorer)
        before_loads = self._loads(explorer)
        before_value = self.control_value(explorer, control)
        self.evaluate("() => { window.__course.t0 = null; window.__course.armed = true; }")
        action = self._act(locator, control, direction)
        if self.control_value(explorer, control) == before_value and control.kind == "slider":
            direction = -direction  # the slider was at its end: the other way, timed from that key press
            self.evaluate("() => { window.__course.t0 = null; }")
            action = self._act(locator, control, direction)
        self.evaluate("() => { window.__course.armed = false; }")
        changed_src = True
        try:
            page.wait_for_function("([index, count]) => ((window.__course.loads[index] || {}).count || 0) > count",
                                   arg=[str(explorer.index), before_loads], timeout=timeout * 1000, polling=20)
        except Exception:
            changed_src = False
        t0, loaded = self.evaluate("(index) => [window.__course.t0, (window.__course.loads[index] || {}).t]",
                                   str(explorer.index))
        self.wait_idle(timeout=60, quiet_ms=150)
        changed = changed_src and self.image_hash(explorer) != before_hash
        ms = loaded - t0 if changed and t0 is not None and loaded is not None else None
        return Move(control, action, changed, ms, direction)

    def control_disabled(self, explorer: ExplorerView, control: Control) -> bool:
        return self.evaluate("""(sel) => {
            const el = document.querySelector(sel);
            if (el.matches('select, input, button')) return el.disabled;
            const inputs = Array.from(el.querySelectorAll('select, input, button'));
            if (inputs.length) return inputs.every(i => i.disabled);
            const target = el.querySelector('.noUi-target');
            return !el.querySelector('.noUi-handle') || (!!target && target.hasAttribute('disabled'));
        }""", f'{explorer.selector} [data-course-control="{control.index}"]')

    def _loads(self, explorer: ExplorerView) -> int:
        return self.evaluate("(index) => (window.__course.loads[index] || {}).count || 0", str(explorer.index))

    def _act(self, locator, control: Control, direction: int) -> str:
        if control.kind == "slider":
            handle = locator.locator(".noUi-handle").first
            handle.focus()
            key = "ArrowRight" if direction > 0 else "ArrowLeft"
            handle.press(key)
            return key
        if control.kind == "dropdown":
            select = locator.locator("select")
            options = select.locator("option").all_text_contents()
            current = select.evaluate("s => s.selectedIndex")
            target = (current + direction) % len(options)
            select.select_option(index=target)
            return f"select {options[target]!r}"
        if control.kind == "checkbox":
            locator.locator("input").click()
            return "click"
        if control.kind == "button":
            locator.click()
            return "click"
        if control.kind in ("toggle", "radio"):
            # The next (or previous) option after the active one, as for a dropdown.
            options = locator.locator("button" if control.kind == "toggle" else "input")
            states = options.evaluate_all("els => els.map(e => [e.classList.contains('mod-active') || e.checked, "
                                          "e.disabled, e.textContent || e.value])")
            current = next((i for i, (active, _, _) in enumerate(states) if active), 0)
            for step in range(1, len(states)):
                target = (current + direction * step) % len(states)
                if not states[target][1]:
                    break
            options.nth(target).click()
            return f"click {states[target][2]!r}"
        raise ValueError(control.kind)

    def screenshot(self, explorer: ExplorerView, margin: int = 8) -> bytes:
        """A PNG of the explorer (its controls, figure and readout, cropped to what is drawn)."""
        self.page.mouse.move(0, 0)
        self.page.locator(explorer.selector).scroll_into_view_if_needed()
        # The same pixels on every run: the explorer near the top of the viewport, on a whole pixel
        # (text drawn at a fractional offset is anti-aliased differently).
        self.evaluate("""(sel) => {
            const root = document.querySelector(sel);
            let scroller = root.parentElement;
            while (scroller && !(scroller.scrollHeight > scroller.clientHeight &&
                                 /(auto|scroll)/.test(getComputedStyle(scroller).overflowY))) {
                scroller = scroller.parentElement;
            }
            if (!scroller) return;
            scroller.scrollTop += root.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 24;
            const rect = root.getBoundingClientRect();
            root.style.position = 'relative';  // (undone after the screenshot)
            root.style.left = `${Math.round(rect.left) - rect.left}px`;
            root.style.top = `${Math.round(rect.top) - rect.top}px`;
        }""", explorer.selector)
        box = self.evaluate("""(sel) => {
            const root = document.querySelector(sel);
            const rects = [];
            for (const el of root.querySelectorAll('[data-course-control], img')) rects.push(el.getBoundingClientRect());
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const node = walker.currentNode;
                if (!node.textContent.trim()) continue;
                const range = document.createRange();
                range.selectNodeContents(node);
                rects.push(range.getBoundingClientRect());
            }
            const visible = rects.filter(r => r.width > 0 && r.height > 0);
            const outer = root.getBoundingClientRect();
            return {x: Math.min(...visible.map(r => r.left)), y: Math.min(...visible.map(r => r.top)),
                    right: Math.max(...visible.map(r => r.right)), bottom: Math.max(...visible.map(r => r.bottom)),
                    outer: [outer.left, outer.top, outer.right, outer.bottom]};
        }""", explorer.selector)
        # The drawn content plus a margin, but nothing outside the explorer's own box.
        left, top, right, bottom = box["outer"]
        x0 = max(math.floor(box["x"]) - margin, math.ceil(left), 0)
        y0 = max(math.floor(box["y"]) - margin, math.ceil(top), 0)
        x1 = min(math.ceil(box["right"]) + margin, math.floor(right))
        y1 = min(math.ceil(box["bottom"]) + margin, math.floor(bottom))
        clip = {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}
        try:
            return self.page.screenshot(clip=clip, animations="disabled", caret="hide")
        finally:
            self.evaluate("""(sel) => {
                const root = document.querySelector(sel);
                root.style.position = root.style.left = root.style.top = '';
            }""", explorer.selector)


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def save_png(png: bytes, path: Path, border: str | None = "white") -> bool:
    """Write a small palette PNG framed by a 10-pixel ``border`` (None: the colour of its top-left pixel, the
    page's); leave the file alone when its pixels would not change. Returns whether the file was written."""
    import io

    from PIL import Image, ImageChops, ImageOps

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = ImageOps.expand(image, border=10, fill=border or image.getpixel((0, 0)))
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    if path.exists():
        try:
            old = Image.open(path).convert("RGB")
            if old.size == small.size and ImageChops.difference(old, small.convert("RGB")).getbbox() is None:
                return False
        except OSError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    small.save(buffer, format="png", optimize=True)
    path.write_bytes(buffer.getvalue())
    return True
