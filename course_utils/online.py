"""Where the course lives online: its repository, links that open a notebook on Colab or Binder, and the
first cell of every notebook, which installs the course where it is missing (on Colab).

The repository's address is written here and nowhere else by hand: ``scripts/colab_cell.py`` copies it
into each notebook's first cell and into the Colab and Binder links of the notebooks and the README, and
the tests check that every copy is current. To publish the course under another address, change
``REPOSITORY`` and run ``.venv/bin/python scripts/colab_cell.py``.

>>> colab_url("notebooks/03_initialization.ipynb").startswith("https://colab.research.google.com/github/")
True
"""

from __future__ import annotations

import re
from urllib.parse import quote

import nbformat

REPOSITORY = "https://github.com/OWNER/training-deep-networks"  # the public repository (set before publishing)
BRANCH = "main"

# Environment variable that replaces what the first cell installs (the tests install a local build).
INSTALL_ENV = "COURSE_INSTALL"
BOOTSTRAP_ID = "install-course"  # the cell id of the first cell, in every notebook


def _owner_and_name() -> str:
    return REPOSITORY.removeprefix("https://github.com/").strip("/")


def install_source() -> str:
    """What pip installs on Colab: the course from the repository's branch.

    >>> install_source().startswith("git+https://github.com/") and install_source().endswith("@main")
    True
    """
    return f"git+{REPOSITORY}@{BRANCH}"


def colab_url(path: str) -> str:
    """The address that opens ``path`` (relative to the repository's root) on Colab."""
    return f"https://colab.research.google.com/github/{_owner_and_name()}/blob/{BRANCH}/{path}"


def binder_url(path: str = "notebooks/00_start_here.ipynb") -> str:
    """The address that builds the course on Binder (``binder/``) and opens ``path`` in JupyterLab.

    >>> binder_url().endswith("?labpath=notebooks%2F00_start_here.ipynb")
    True
    """
    return f"https://mybinder.org/v2/gh/{_owner_and_name()}/{BRANCH}?labpath={quote(path, safe='')}"


def bootstrap_source() -> str:
    """The first code cell of every lesson and lab.

    Where ``course_utils`` can be imported (a local install, Binder, the grader) it only looks it up:
    silent, and well under a millisecond. Elsewhere (Colab) it installs the course with pip, from the
    repository or from ``$COURSE_INSTALL``.
    """
    return (
        "# Installs the course where it is missing (on Colab); does nothing where it is installed.\n"
        "import importlib.util, os, subprocess, sys\n"
        "\n"
        'if importlib.util.find_spec("course_utils") is None:\n'
        f'    source = os.environ.get("{INSTALL_ENV}", "{install_source()}")\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)\n'
        "    importlib.invalidate_caches()"
    )


def bootstrap_cell() -> nbformat.NotebookNode:
    """:func:`bootstrap_source` as a code cell with its fixed id."""
    cell = nbformat.v4.new_code_cell(bootstrap_source())
    cell.id = BOOTSTRAP_ID
    return cell


def with_bootstrap(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with the current first cell right before its first other code cell (an older version of
    the cell is replaced; running it again changes nothing)."""
    cells = [cell for cell in nb.cells if cell.get("id") != BOOTSTRAP_ID]
    first_code = next((i for i, cell in enumerate(cells) if cell.cell_type == "code"), len(cells))
    nb.cells = cells[:first_code] + [bootstrap_cell()] + cells[first_code:]
    return nb


_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/")
_BINDER = re.compile(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/[\w.-]+(?=[?)\s\"]|$)")


def with_current_links(text: str) -> str:
    """``text`` with every Colab and Binder link pointing at :data:`REPOSITORY` and :data:`BRANCH`.

    >>> old = "[Colab](https://colab.research.google.com/github/someone/old/blob/dev/notebooks/x.ipynb)"
    >>> with_current_links(old) == f"[Colab]({colab_url('notebooks/x.ipynb')})"
    True
    """
    text = _COLAB.sub(colab_url(""), text)
    return _BINDER.sub(binder_url("").split("?")[0], text)


def colab_links(text: str) -> list[str]:
    """The repository paths that the Colab links in ``text`` open (whatever their repository)."""
    return [match.group(1) for match in re.finditer(_COLAB.pattern + r"([^)\s\"]+)", text)]
