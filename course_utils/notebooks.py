"""Read, validate and execute notebooks headless, each in a fresh kernel.

Used by ``course run``, ``course check``, ``course release`` and the grader.
A notebook is executed in memory: the file on disk is never written.

Example::

    nb = read_notebook("notebooks/00_start_here.ipynb")
    result = execute_notebook(nb, cwd="notebooks", timeout=120)
    result.status, round(result.seconds)   # ('ok', 5)
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import nbformat
import zmq
from ipykernel.kernelspec import RESOURCES, get_kernel_dict
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient

OK, ERROR, TIMEOUT, DEAD = "ok", "error", "timeout", "kernel died"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(Exception):
    """A path that is not a readable notebook; the message is one line for the terminal."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, or raise :class:`NotebookError` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise NotebookError(f"{path}: no such file")
    if path.is_dir():
        raise NotebookError(f"{path}: is a folder, expected a notebook (.ipynb)")
    if path.suffix != ".ipynb":
        raise NotebookError(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path}: cannot be read ({exc})") from None
    return parse_notebook(text, str(path))


def parse_notebook(text: str, name: str = "notebook") -> nbformat.NotebookNode:
    """Parse notebook JSON text; a malformed notebook raises :class:`NotebookError`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name}: malformed notebook, not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise NotebookError(f"{name}: malformed notebook, no 'cells' or 'nbformat' field")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds
        message = str(getattr(exc, "message", exc)).splitlines()[0]
        raise NotebookError(f"{name}: malformed notebook ({message})") from None
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The exact text ``nbformat`` (and JupyterLab) would save."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def cells_digest(nb: nbformat.NotebookNode) -> str:
    """A fingerprint of a notebook's cells (type and source), e.g. to tell an edited notebook apart."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def find_notebooks(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to the notebooks they hold (sorted); a missing path raises :class:`NotebookError`."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.exists():
            found.append(path)
        else:
            raise NotebookError(f"{path}: no such file or folder")
    return found


@dataclass
class CellError:
    index: int
    grade_id: str
    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)  # the last lines, without colours

    def __str__(self) -> str:
        where = f"cell {self.index}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"{where}: {self.ename}: {self.evalue}".strip().rstrip(":")


@dataclass
class Execution:
    """What happened when a notebook ran: status, seconds, and the errors of its cells."""

    status: str
    seconds: float
    errors: list[CellError] = field(default_factory=list)
    notebook: nbformat.NotebookNode | None = None
    message: str = ""
    truncated: bool = False   # outputs were dropped past ``max_output_bytes``

    def summary(self) -> str:
        if self.status == OK:
            return OK
        detail = self.message or (str(self.errors[0]) if self.errors else "")
        return f"{self.status}: {detail}" if detail else self.status


def kernel_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a headless kernel: ours, quiet, plus ``extra``."""
    env = dict(os.environ)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.update(extra or {})
    return env


@dataclass
class KernelLaunch:
    """How to start a kernel, when the default (this Python, our environment, TCP on localhost) is not wanted.

    ``argv`` is the kernel command with a ``{connection_file}`` placeholder (e.g.
    wrapped in a sandbox); ``env`` is the *complete* environment of the kernel;
    ``connection_file`` is where the connection file is written. With
    ``ipc_prefix``, the kernel's five ZeroMQ sockets are Unix sockets
    ``<ipc_prefix>-<port>`` that *we* create and bind, then hand over listening:
    the kernel inherits them and finds them in the environment variable
    ``sockets_env`` (``port=fd`` pairs; see :mod:`course_utils.grading.kernel`).
    ``pass_fds`` are more file descriptors the kernel inherits (e.g. the write
    end of the grader's record pipe), and ``started(pid)`` is called with the
    process id of the kernel's command once it runs. With ``spawn``, the kernel is not a new process of
    ours: ``spawn(argv, env, pass_fds)`` starts it (e.g. a fork of a warm zygote,
    :mod:`course_utils.grading.warm`) and returns a ``subprocess.Popen``-like handle.
    """

    argv: list[str] | None = None
    env: dict[str, str] | None = None
    connection_file: str | None = None
    ipc_prefix: str | None = None
    sockets_env: str = ""
    pass_fds: tuple[int, ...] = ()
    started: Callable[[int], None] | None = None
    spawn: Callable[[list[str], dict[str, str], tuple[int, ...]], object] | None = None


MAX_MESSAGE_BYTES = 4 * 2**20   # with an output cap: a larger message from the kernel is never read...
MESSAGE_QUEUE = 16              # ...and at most this many wait to be read (per channel)


def execute_notebook(nb: nbformat.NotebookNode, *, cwd: str | Path, timeout: float = 600,
                     env: dict[str, str] | None = None, allow_errors: bool = False,
                     launch: KernelLaunch | None = None, hooks: dict | None = None,
                     max_output_bytes: int | None = None) -> Execution:
    """Execute a copy of ``nb`` in a fresh kernel of this Python, with a wall-clock ``timeout``.

    With ``allow_errors`` every cell runs even after an error (a lab is graded
    to the end); otherwise execution stops at the first error, like "Run All".
    The kernel is killed (not waited for) when the time is up. ``env`` adds
    variables to the kernel's environment; ``launch`` replaces how the kernel is
    started; ``hooks`` are nbclient cell hooks (``on_cell_execute``, ...).
    With ``max_output_bytes``, outputs are kept up to that many bytes in all
    (errors always), then dropped with one "output truncated" line; no kernel
    message larger than ``MAX_MESSAGE_BYTES`` is ever read, and widgets' state
    and display updates are ignored: what a notebook prints cannot fill the
    memory of the process that runs it.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # never touch the caller's notebook
    launch = launch or KernelLaunch()
    kernel_env = {**(launch.env if launch.env is not None else kernel_environment()), **(env or {})}
    start = time.perf_counter()
    status, message, seen = OK, "", {"truncated": False}
    try:
        asyncio.run(_execute(nb, Path(cwd), start + timeout, kernel_env, allow_errors, launch, hooks or {},
                             max_output_bytes, seen))
    except Exception as exc:
        name = type(exc).__name__
        if time.perf_counter() - start >= timeout or name in ("TimeoutError", "CellTimeoutError"):
            status, message = TIMEOUT, f"stopped after {timeout:g} s"
        elif name == "CellExecutionError":
            status = ERROR
        elif name == "DeadKernelError":
            status, message = DEAD, "the kernel died (out of memory, or the process exited)"
        else:
            status, message = ERROR, f"{name}: {exc}".splitlines()[0]
    seconds = time.perf_counter() - start
    errors = cell_errors(nb)
    if status == OK and errors:
        status = ERROR
    return Execution(status, seconds, errors, nb, message, seen["truncated"])


def cell_errors(nb: nbformat.NotebookNode) -> list[CellError]:
    """The error outputs of an executed notebook, in cell order."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
                lines = [ANSI.sub("", line) for item in output.get("traceback", []) for line in item.splitlines()]
                errors.append(CellError(index, grade_id, output.get("ename", ""), output.get("evalue", ""),
                                        lines[-12:]))
    return errors


async def _execute(nb, cwd: Path, deadline: float, env: dict, allow_errors: bool, launch: KernelLaunch,
                   hooks: dict, max_output_bytes: int | None, seen: dict) -> None:
    """Each cell may use what is left of the notebook's time; then the kernel is killed. ``seen["truncated"]``
    tells whether outputs were dropped."""
    km = _KernelManager(launch, capped=max_output_bytes is not None, kernel_name="python3",
                        kernel_spec_manager=ThisPython(argv=launch.argv))
    if launch.connection_file:
        km.connection_file = launch.connection_file
    if launch.ipc_prefix:
        km.transport, km.ip = "ipc", launch.ipc_prefix
    client = _NotebookClient(nb, km=km, allow_errors=allow_errors, shutdown_kernel="immediate",
                             timeout_func=lambda cell: max(1, int(deadline - time.perf_counter()) + 1),
                             startup_timeout=max(1, int(deadline - time.perf_counter())),
                             resources={"metadata": {"path": str(cwd)}}, **hooks)
    client.max_output_bytes = max_output_bytes
    try:
        await asyncio.wait_for(
            client.async_execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            max(1.0, deadline - time.perf_counter() + 5))
    finally:
        seen["truncated"] = client._truncated
        atexit.unregister(client._cleanup_kernel)  # nbclient leaves it registered when a kernel fails to start
        if km.has_kernel:
            await km.shutdown_kernel(now=True)


class _KernelManager(AsyncKernelManager):
    """Starts the kernel as ``launch`` says: inherited file descriptors, sockets made on our side."""

    def __init__(self, launch: KernelLaunch, capped: bool = False, **kwargs):
        super().__init__(**kwargs)
        self._launch = launch
        self._capped = capped

    def client(self, **kwargs):
        client = super().client(**kwargs)
        if self._capped:  # defaults of the client's own context, set before its channels' sockets exist
            client.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            client.context.setsockopt(zmq.RCVHWM, MESSAGE_QUEUE)
        return client

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        sockets: list[tuple[int, socket.socket]] = []
        try:
            if self._launch.ipc_prefix:
                for port in self.ports:
                    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sockets.append((port, listener))
                    listener.bind(f"{self.ip}-{port}")
                    listener.listen(64)
                kw["env"] = {**kw["env"], self._launch.sockets_env:
                             ",".join(f"{port}={listener.fileno()}" for port, listener in sockets)}
            kw["pass_fds"] = (*self._launch.pass_fds, *(listener.fileno() for _, listener in sockets))
            if self._launch.spawn is None:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            else:  # what LocalProvisioner.launch_kernel does, with the handle spawn gives
                provisioner = self.provisioner
                provisioner.process = self._launch.spawn(kernel_cmd, kw["env"], kw["pass_fds"])
                provisioner.pid, provisioner.pgid = provisioner.process.pid, None
                self._reconcile_connection_info(provisioner.connection_info)
        finally:
            for _, listener in sockets:  # the kernel has them now
                listener.close()
        if self._launch.started is not None:
            self._launch.started(self.provisioner.pid)


class _NotebookClient(NotebookClient):
    """nbclient's client, with an optional cap on what it keeps of a notebook's outputs."""

    max_output_bytes: int | None = None
    _kept = 0
    _truncated = False
    _watchers: tuple = ()

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        if self.max_output_bytes is not None:
            self._watchers = tuple(
                asyncio.ensure_future(_reconnect_when_dropped(channel.socket, client._make_url(name), self.km.is_alive))
                for name, channel in (("iopub", client.iopub_channel), ("shell", client.shell_channel)))
        return client

    async def _async_cleanup_kernel(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        await super()._async_cleanup_kernel()

    def output(self, outs, msg, display_id, cell_index):
        if self.max_output_bytes is None:
            return super().output(outs, msg, display_id, cell_index)
        content = msg["content"]
        if msg["msg_type"] == "error":  # always kept, trimmed
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            content["traceback"] = [str(line)[:2000] for line in content.get("traceback", [])[-20:]]
            return super().output(outs, msg, display_id, cell_index)
        size = _text_size(content)
        if self._kept + size > self.max_output_bytes:
            if not self._truncated:
                self._truncated = True
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=TRUNCATED))
            return None
        self._kept += size
        return super().output(outs, msg, display_id, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):
        if self.max_output_bytes is None:  # widgets' state is only kept without a cap
            super().handle_comm_msg(outs, msg, cell_index)

    def _update_display_id(self, display_id, msg):
        if self.max_output_bytes is None:
            super()._update_display_id(display_id, msg)


TRUNCATED = "[output truncated: this notebook printed more than the grader keeps]\n"


async def _reconnect_when_dropped(socket: zmq.Socket, url: str, alive: Callable) -> None:
    """Connect ``socket`` to ``url`` again when the connection drops while the kernel is alive.

    ZeroMQ drops a connection that brings a message over ``MAXMSGSIZE`` and,
    after that protocol error, does not reconnect by itself: without this, one
    oversized print would leave the client deaf to every later output. When
    the kernel died, nothing is done (disconnecting a socket whose peer is going
    away can trip an assertion inside libzmq).
    """
    monitor = socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    try:
        while True:
            await monitor.recv_multipart()
            await asyncio.sleep(0.5)  # a kernel that died has exited by now
            if not await alive():
                return
            try:
                socket.disconnect(url)  # the endpoint ZeroMQ gave up on
            except zmq.ZMQError:
                pass
            socket.connect(url)
    except (asyncio.CancelledError, zmq.ZMQError):
        pass
    finally:
        try:
            socket.disable_monitor()
        except zmq.ZMQError:
            pass
        monitor.close(linger=0)


def _text_size(value) -> int:
    """Characters of text in a message's content (strings in nested dicts and lists)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return sum(_text_size(item) for item in value)
    return 8


class ThisPython(KernelSpecManager):
    """Run every notebook on the interpreter that has ``course_utils`` installed,
    whatever kernels the user registered elsewhere (``~/.local/share/jupyter``),
    or with the given kernel command ``argv``."""

    def __init__(self, argv: list[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._argv = argv

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = get_kernel_dict()
        if self._argv:
            spec["argv"] = list(self._argv)
        return KernelSpec(resource_dir=RESOURCES, **spec)
