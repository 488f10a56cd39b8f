"""Train lesson 09's final PINN for the heat equation and measure it against the exact solution.

    .venv/bin/python bench/pinn.py [--seed 0]

Lesson 09 measures what each fix buys with small networks on a budget of 400 evaluations, five seeds
at once (``heat.train_stack``); this trains its best recipe at full size -- sin/cos embedding, hard
initial condition, Adam on resampled points, then L-BFGS -- with ``course_utils.heat.train_pinn`` and
prints a table: relative L2 error on the 201 x 101 grid, wall-clock and CPU seconds of the
training, L-BFGS iterations. Targets: relative L2 <= 5e-3 in <= 45 s of training on 2 CPU cores.
The last line is ``pinn rel_l2=<value> seconds=<value>`` (seconds: wall clock of the training).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import heat  # noqa: E402
from course_utils.cli import format_table  # noqa: E402

TARGET_REL_L2 = 5e-3
TARGET_SECONDS = 45.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the lesson uses 0")
    args = parser.parse_args()

    run = heat.train_pinn(seed=args.seed)
    adam_phase = run.history["phase"].index("lbfgs") if "lbfgs" in run.history["phase"] else -1
    rows = [
        ["relative L2 error (grid 201 x 101)", f"{run.rel_l2:.3e}", f"<= {TARGET_REL_L2:g}"],
        ["relative L2 error after the Adam phase", f"{run.history['rel_l2'][adam_phase]:.3e}", ""],
        ["final loss (mean squared residual)", f"{run.history['loss'][-1]:.3e}", ""],
        ["L-BFGS iterations", str(run.lbfgs_iterations), ""],
        ["training, wall clock (s)", f"{run.seconds:.1f}", f"<= {TARGET_SECONDS:g}"],
        ["training, CPU time (s)", f"{run.cpu_seconds:.1f}", ""],
    ]
    print(format_table(["PINN, heat equation, seed %d (cpus=%s)" % (args.seed, os.cpu_count()), "value", "target"],
                       rows))
    ok = run.rel_l2 <= TARGET_REL_L2 and run.seconds <= TARGET_SECONDS
    print("targets met" if ok else "TARGET MISSED")
    print(f"pinn rel_l2={run.rel_l2:.3e} seconds={run.seconds:.1f}")


if __name__ == "__main__":
    main()
