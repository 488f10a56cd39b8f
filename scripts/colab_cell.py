"""Put the current first cell (install the course where it is missing, i.e. on Colab) into every lesson and
lab source, and point every Colab and Binder link at the repository of ``course_utils/online.py``.

    .venv/bin/python scripts/colab_cell.py           # update notebooks/, solutions/ and README.md
    .venv/bin/python scripts/colab_cell.py --check   # write nothing; exit 1 if anything is out of date
    .venv/bin/course release                         # then regenerate exercises/ from solutions/

Running it twice changes nothing. Lab notebooks in ``exercises/`` are generated: ``course release`` copies
the cell from ``solutions/``.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.notebooks import notebook_text, read_notebook  # noqa: E402
from course_utils.online import with_bootstrap, with_current_links  # noqa: E402


def updated_notebook(path: Path) -> str:
    """The text ``path`` should have: the current first cell, current links in its markdown."""
    nb = with_bootstrap(copy.deepcopy(read_notebook(path)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = with_current_links(cell.source)
    return notebook_text(nb)


def updates(root: Path = ROOT) -> dict[Path, str]:
    """Every file of the course that this script maintains, with the text it should have."""
    wanted = {path: updated_notebook(path) for folder in ("notebooks", "solutions")
              for path in sorted((root / folder).glob("*.ipynb"))}
    readme = root / "README.md"
    wanted[readme] = with_current_links(readme.read_text(encoding="utf-8"))
    return {path: text for path, text in wanted.items() if path.read_text(encoding="utf-8") != text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = updates()
    for path, text in stale.items():
        print(f"{'out of date' if args.check else 'updated'}: {path.relative_to(ROOT)}")
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if stale and not args.check and any(p.parent.name == "solutions" for p in stale):
        print("now regenerate the labs: .venv/bin/course release")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
