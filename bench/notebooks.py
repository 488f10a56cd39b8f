"""Execute every notebook headless, each in a fresh kernel, and print the seconds per notebook.

    .venv/bin/python bench/notebooks.py [--include-exercises]

Also prints the import time of ``course_utils`` beyond torch (budget: 1 s),
measured in fresh interpreters. Budgets: each notebook <= 60 s (most <= 20 s),
the whole course <= 8 min, on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.cli import format_table  # noqa: E402
from course_utils.notebooks import execute_notebook, read_notebook  # noqa: E402


def import_seconds(statement: str, repeat: int = 3) -> float:
    """Best wall time of ``python -c statement`` in a fresh interpreter."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--include-exercises", action="store_true",
                        help="also run exercises/ (they stop at the first unanswered exercise)")
    args = parser.parse_args()
    folders = ["notebooks", "solutions"] + (["exercises"] if args.include_exercises else [])
    rows, total, worst = [], 0.0, 0.0
    for folder in folders:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            result = execute_notebook(read_notebook(path), cwd=path.parent, timeout=600)
            total += result.seconds
            worst = max(worst, result.seconds)
            rows.append([f"{folder}/{path.name}", f"{result.seconds:.1f}", result.summary()])
            print(f"  {rows[-1][0]}: {rows[-1][1]} s", file=sys.stderr, flush=True)
    rows.append(["total", f"{total:.1f}", ""])
    print(format_table(["notebook", "seconds", "status"], rows))

    python = import_seconds("pass")
    torch = import_seconds("import torch")
    course = import_seconds("import torch, course_utils.data, course_utils.train, course_utils.checks, "
                            "course_utils.widgets")
    print()
    print(format_table(["import", "seconds"], [["python (startup)", f"{python:.2f}"],
                                               ["torch", f"{torch - python:.2f}"],
                                               ["course_utils beyond torch", f"{course - torch:.2f}"]]))
    print(f"\nnotebooks total_s={total:.1f} max_s={worst:.1f} import_beyond_torch_s={course - torch:.2f} "
          f"cpus={os.cpu_count()}")


if __name__ == "__main__":
    main()
