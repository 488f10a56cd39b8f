"""Print constraints.txt: the versions the test suite passed with, as pip constraints for every platform.

``make constraints`` runs it (after ``make test`` installed everything into ``.venv``)::

    .venv/bin/python scripts/constraints.py > constraints.txt

1. The pins are ``pip freeze`` of this environment (Linux x86_64, where the tests run).
2. A pin whose release needs a newer Python than the course's floor (``requires-python``) carries
   that condition as a marker, e.g. ``numpy==2.4.6; python_full_version >= "3.11"``: an older
   Python gets the newest release it can run instead of a failed install.
3. Pins of packages that only some platforms install (the CUDA libraries and triton that PyPI's
   Linux torch pulls in) stay: pip ignores a constraint on a package nothing asks for, so they
   change nothing on macOS, on Windows or with the CPU-only torch.

Example of step 2:

>>> python_marker(">=3.11", floor="3.10")
'python_full_version >= "3.11"'
>>> python_marker(">=3.9", floor="3.10") is None  # every supported Python can install it
True
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "training-deep-networks"
HEADER = """\
# Tested versions: `make lab` and `make test` install these (pip -c constraints.txt).
# Produced by `make constraints` (scripts/constraints.py: pip freeze of .venv after `make test`, on Linux
# x86_64). A pin whose release needs a newer Python than the course's floor carries a python marker.
# Pins of Linux-only packages (CUDA libraries, triton) are harmless elsewhere: pip ignores a constraint
# on a package nothing asks for. Checked to resolve for Linux, macOS 14 (arm64) and Windows (x86_64):
#   uv pip compile --python-platform {x86_64-unknown-linux-gnu,aarch64-apple-darwin,x86_64-pc-windows-msvc}
#       --python-version 3.11 --extra dev -c constraints.txt pyproject.toml
"""


def python_marker(requires_python: str, floor: str) -> str | None:
    """The environment marker under which a release with this ``Requires-Python`` installs, or None
    when every Python from ``floor`` on can install it."""
    spec = SpecifierSet(requires_python)
    if spec.contains(floor):
        return None
    return " and ".join(f'python_full_version {s.operator} "{s.version}"' for s in sorted(spec, key=str))


def python_floor() -> str:
    """The lowest Python the course supports, from pyproject.toml (``>=3.10`` gives ``3.10``)."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    return min(s.version for s in SpecifierSet(requires) if s.operator in (">=", "=="))


def constraints() -> str:
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    floor = python_floor()
    lines = []
    for pin in frozen:
        name = pin.split("==")[0]
        if not pin or pin.startswith("#") or name.lower() == PROJECT:
            continue
        requires_python = importlib.metadata.metadata(name).get("Requires-Python") or ""
        marker = python_marker(requires_python, floor) if requires_python else None
        lines.append(f"{pin}; {marker}" if marker else pin)
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(constraints())
