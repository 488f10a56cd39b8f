"""Where and how a submission's kernel runs: a sandbox that holds only what a kernel needs.

On Linux, with `bubblewrap <https://github.com/containers/bubblewrap>`_, each
kernel runs in its own namespaces:

* its file system holds, read-only, the Python installation and the virtual
  environment (:func:`software_paths`) and the ``course_utils`` package
  folder alone -- not the checkout around it (no ``.git``, no
  ``solutions/``, no sibling folders) -- and ``/usr``; plus a fresh ``/proc``,
  a minimal ``/dev``, and a private ``/tmp`` and ``/dev/shm`` in memory, of a
  fixed size (the scratch folder ``/tmp/scratch`` is in it). No ``$HOME``, no
  instructor file, nothing of the other submissions or of the grader;
* it has no network at all (not even the host's loopback): the grader talks to
  the kernel over Unix sockets that the grader itself creates in a folder of
  its own and hands over already listening (:mod:`.kernel`);
* it runs as an unprivileged user without capabilities, may not create user
  namespaces, and dies with the grader;
* its memory and processes are limited as a whole (:mod:`.limits`).

Kernels start cold (a new interpreter in a new bubblewrap sandbox) or warm:
forks of a zygote per worker thread that runs in the same view and has
imported the heavy libraries once, each fork entering namespaces of its own
that give it exactly the view above (:mod:`.warm`).

The environment is scrubbed: nothing of the instructor's leaks into it.
Where bubblewrap cannot run (not Linux, or user namespaces disabled, as in
some Docker and Kubernetes defaults), grading still works, with a warning,
unless ``--require-sandbox``.

>>> env = scrubbed_environment("/tmp/scratch", {"COURSE_RECORD": "fd:5"})
>>> sorted(env)[:3], env["HOME"], "COURSE_SOLUTIONS" in env
(['COURSE_RECORD', 'HOME', 'LANG'], '/tmp/scratch', False)
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from course_utils.grading import kernel, warm
from course_utils.grading.bwrap import (SANDBOX_UID, _namespaces, _system_mounts, bwrap_path, package_folder,
                                        sandbox_problem, scrubbed_environment, software_paths)
from course_utils.grading.limits import Enforcer, Limits, Session
from course_utils.notebooks import KernelLaunch

SCRATCH = "/tmp/scratch"               # the kernel's working folder and $HOME, inside the sandbox
CONNECTION_FILE = "/run/kernel.json"   # where the kernel reads its connection file, inside the sandbox
COLD, WARM = "cold", "warm"            # a fresh interpreter per notebook, or a fork of a warm zygote (:mod:`.warm`)


@dataclass
class Sandbox:
    """How submissions are run: with bubblewrap (``use_bwrap``) or without, under which limits, and in
    ``kernels`` that start cold (a new interpreter each) or warm (forks of a zygote per worker thread)."""

    limits: Limits = field(default_factory=Limits)
    use_bwrap: bool = True
    enforcer: Enforcer | None = None
    support: Path | None = None  # the grader's files that the sandbox mounts (font cache, passwd)
    kernels: str = COLD
    _zygotes: list = field(default_factory=list, repr=False, compare=False)
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, limits: Limits, *, allow_unsandboxed: bool = True, use_cgroups: bool = True,
               kernels: str = COLD, warn=print) -> "Sandbox":
        """A sandbox for this machine; says in one line (``warn``) when bubblewrap cannot run here, or
        when warm kernels cannot (then kernels start cold). The grader then calls :meth:`prepare`."""
        problem = sandbox_problem()
        if problem:
            if not allow_unsandboxed:
                raise RuntimeError(f"no sandbox: {problem}")
            warn(f"warning: submissions run WITHOUT a sandbox: {problem}. They can read any file you can "
                 "read (the instructor's solutions included) and write outside their scratch folder.")
        if kernels == WARM:
            cannot = "there is no sandbox to fork them into" if problem else warm.warm_problem()
            if cannot:
                warn(f"note: warm kernels are not available here ({cannot}): each notebook starts a cold kernel")
                kernels = COLD
        return cls(limits, not problem, Enforcer(limits, use_cgroups=use_cgroups), kernels=kernels)

    def prepare(self, support: Path) -> None:
        """The grader's files that every sandbox mounts: matplotlib's font cache (built once, so that no
        kernel spends a second on it), and a passwd and group file that know the sandbox's user."""
        self.support = support
        cache = support / "matplotlib"
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=False, capture_output=True,
                       env={**os.environ, "MPLCONFIGDIR": str(cache)}, timeout=300)
        (support / "passwd").write_text(f"learner:x:{SANDBOX_UID}:{SANDBOX_UID}:learner:{SCRATCH}:/bin/sh\n")
        (support / "group").write_text(f"learner:x:{SANDBOX_UID}:\n")

    def describe(self) -> str:
        """One line for ``course grade``: how submissions run."""
        where = "in a bubblewrap sandbox (no network, no files but Python's and the course package's)" \
            if self.use_bwrap else "WITHOUT a sandbox"
        how = "warm kernels (forks of a zygote per worker that imported the libraries once)" \
            if self.kernels == WARM else "a fresh kernel per notebook"
        return f"{where}; {how}; {self.enforcer.describe() if self.enforcer else 'no limits'}"

    def zygote(self) -> warm.Zygote:
        """This thread's zygote (started on first use, again if it died)."""
        zygote = getattr(self._local, "zygote", None)
        if zygote is None or not zygote.alive():
            package = package_folder()
            env = scrubbed_environment(SCRATCH, {"PYTHONPATH": str(package.parent)})
            argv = [bwrap_path(), *self.mounts(package, None, namespaces=warm.zygote_namespaces()), "--",
                    sys.executable, "-m", "course_utils.grading.warm"]
            zygote = self._local.zygote = warm.Zygote(argv, env)
            with self._lock:
                if not self._zygotes:
                    atexit.register(self.close)
                self._zygotes.append(zygote)
        return zygote

    def close(self) -> None:
        """Stop the zygotes (each also dies with the thread that started it)."""
        with self._lock:
            zygotes, self._zygotes[:] = list(self._zygotes), []
        for zygote in zygotes:
            zygote.close()

    def launch(self, workdir: Path, env: dict[str, str], pass_fds: tuple[int, ...] = (),
               started: Callable[[int], None] | None = None) -> tuple[KernelLaunch, Session]:
        """The kernel launch for one submission, and its limits (``Session.finish()`` after the run).

        ``workdir`` is a private folder of the grader's for this kernel (its connection file and sockets);
        the sandbox never sees it. ``env`` is added to the scrubbed environment.
        """
        session = (self.enforcer or Enforcer(self.limits, use_cgroups=False)).session()

        def on_start(pid: int) -> None:
            session.watch(pid)
            if started is not None:
                started(pid)

        connection_file = str(workdir / "kernel.json")
        if not self.use_bwrap:
            scratch = workdir / "scratch"
            (scratch / ".matplotlib").mkdir(parents=True, exist_ok=True)
            self._copy_font_cache(scratch / ".matplotlib")
            kernel_env = scrubbed_environment(str(scratch), {"TMPDIR": str(scratch), **env})
            argv = [*session.prefix(), sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelLaunch(argv=argv, env=kernel_env, connection_file=connection_file, pass_fds=pass_fds,
                                started=on_start), session
        package = package_folder()
        kernel_env = scrubbed_environment(SCRATCH, {"PYTHONPATH": str(package.parent), **env})
        if self.kernels == WARM:
            limits = self.limits

            def spawn(argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> warm.Child:
                for attempt in (1, 2):  # a zygote that died (killed by someone) is replaced once
                    zygote = self.zygote()
                    try:
                        return zygote.spawn(env, fds, Path(connection_file).read_text(), data_mb=limits.data_mb,
                                            tmp_mb=limits.tmp_mb, shm_mb=limits.shm_mb, arguments=argv[2:],
                                            joined=session.join)
                    except (OSError, RuntimeError):
                        if attempt == 2 or zygote.alive():
                            raise

            return KernelLaunch(argv=["warm-kernel", "{connection_file}"], env=kernel_env,
                                connection_file=connection_file, ipc_prefix=str(workdir / "k"),
                                sockets_env=kernel.SOCKETS_ENV, pass_fds=pass_fds, started=on_start,
                                spawn=spawn), session
        argv = [*session.prefix(), bwrap_path(), *self.mounts(package, Path(connection_file)), "--",
                sys.executable, "-m", "course_utils.grading.kernel", "-f", CONNECTION_FILE]
        return KernelLaunch(argv=argv, env=kernel_env, connection_file=connection_file, ipc_prefix=str(workdir / "k"),
                            sockets_env=kernel.SOCKETS_ENV, pass_fds=pass_fds, started=on_start), session

    def mounts(self, package: Path, connection_file: Path | None, namespaces: list[str] | None = None) -> list[str]:
        """bubblewrap's arguments: namespaces, then the file system the kernel sees (see the module doc).
        A warm zygote has the same view with other ``namespaces`` and no connection file."""
        mib = 2**20
        args = [*(namespaces or _namespaces()), *_system_mounts(), "--proc", "/proc", "--dev", "/dev",
                "--size", str(self.limits.tmp_mb * mib), "--tmpfs", "/tmp",
                "--size", str(self.limits.shm_mb * mib), "--tmpfs", "/dev/shm"]
        for path in software_paths():
            args += ["--ro-bind", path, path]
        args += ["--ro-bind", str(package), str(package)]
        if connection_file is not None:
            args += ["--ro-bind", str(connection_file), CONNECTION_FILE]
        else:  # a warm kernel mounts its own /run with its connection file
            args += ["--dir", os.path.dirname(CONNECTION_FILE)]
        args += ["--dir", SCRATCH, "--dir", f"{SCRATCH}/.matplotlib", "--chdir", SCRATCH]
        if self.support is not None:
            for name in ("passwd", "group"):
                args += ["--ro-bind", str(self.support / name), f"/etc/{name}"]
            for item in sorted((self.support / "matplotlib").glob("fontlist*.json")):
                args += ["--ro-bind", str(item), f"{SCRATCH}/.matplotlib/{item.name}"]
        return args

    def _copy_font_cache(self, target: Path) -> None:
        if self.support is not None:
            for item in (self.support / "matplotlib").glob("fontlist*.json"):
                shutil.copy(item, target / item.name)
