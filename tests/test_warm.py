"""Warm kernels (course_utils/grading/warm.py): forks of one zygote per worker, each in a sandbox of its own.

The sandbox's guarantees are tested for cold and warm kernels alike (tests/test_sandbox.py,
tests/test_grading_hostile.py); here, what is particular to forks of one process: nothing one
submission does survives it or reaches the next fork, the learner cannot reach the zygote, and where
forks cannot enter their namespaces the grader says so in one line and starts cold kernels.
"""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.grading import sandbox as sandbox_module
from course_utils.grading.limits import Limits
from course_utils.grading.runner import run_recorded
from course_utils.grading.sandbox import Sandbox, sandbox_problem
from test_sandbox import sandbox_for

needs_sandbox = pytest.mark.skipif(bool(sandbox_problem()) and not os.environ.get("CI"), reason=sandbox_problem())
MARK = "86398"  # a daemon of the first notebook sleeps this long: no process may still do so

FIRST = f"""
import os, json, subprocess, numpy, course_utils
open("/tmp/scratch/left-behind", "w").write("secret")
open("/tmp/left-behind", "w").write("secret")
open("/dev/shm/left-behind", "w").write("secret")
os.environ["LEFT_BEHIND"] = "1"
numpy.mean = lambda *args, **kwargs: 42.0
import signal
for pid in (1, -1):  # the init, then everything it can see: never the zygote
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
course_utils.left_behind = True
if os.fork() == 0:  # a daemon
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{MARK}"])
    os._exit(0)
try:
    os.listdir("/proc/1/root")
    init_root = True
except OSError:
    init_root = False
print(json.dumps({{"draw": float(numpy.random.random()), "init_root": init_root}}))
"""
SECOND = """
import os, json, numpy, course_utils
print(json.dumps({
    "files": [path for path in ("/tmp/scratch/left-behind", "/tmp/left-behind", "/dev/shm/left-behind")
              if os.path.exists(path)],
    "environment": "LEFT_BEHIND" in os.environ, "mean": float(numpy.mean([1.0, 3.0])),
    "patched": hasattr(course_utils, "left_behind"),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "draw": float(numpy.random.random()),
}))
"""


def run_cell(box: Sandbox, code: str, folder: Path) -> dict:
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    run = run_recorded(nb, [], cwd=folder, timeout=120, sandbox=box, workdir=folder)
    outputs = run.execution.notebook.cells[0].outputs
    texts = [output["text"] for output in outputs if output.get("name") == "stdout"]
    assert texts, f"{run.execution.summary()}: {outputs}"
    return json.loads(texts[-1])


def sleeping_daemons() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARK in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(pid)
        except OSError:
            continue
    return found


@needs_sandbox
def test_nothing_of_a_submission_survives_it_or_reaches_the_next_fork(tmp_path):
    box = sandbox_for("warm", tmp_path / "support", use_cgroups=False)  # no cgroup to empty: namespaces alone
    try:
        zygote = box.zygote()
        first = run_cell(box, FIRST, tmp_path / "first")
        deadline = time.monotonic() + 10
        while sleeping_daemons() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sleeping_daemons() == []  # gone with the first kernel's namespace
        second = run_cell(box, SECOND, tmp_path / "second")
        assert box.zygote() is zygote and zygote.alive()  # the same zygote served both, unharmed
        zygote.process.kill()  # a zygote killed between two notebooks is replaced
        zygote.process.wait()
        third = run_cell(box, SECOND, tmp_path / "third")
        assert box.zygote() is not zygote
    finally:
        box.close()
    assert third["files"] == [] and third["mean"] == 2.0
    assert not first["init_root"]  # the init (outside the kernel's user namespace) cannot be looked into
    assert second["files"] == [] and not second["environment"] and not second["patched"]
    assert second["mean"] == 2.0 and second["processes"] == [1, 2]
    assert second["draw"] != first["draw"]  # each fork draws its own random state, as a fresh interpreter
    assert not zygote.alive()


def test_where_forks_cannot_sandbox_themselves_kernels_start_cold_with_one_line(monkeypatch):
    monkeypatch.setattr(sandbox_module, "sandbox_problem", lambda: "")
    monkeypatch.setattr(sandbox_module.warm, "warm_problem", lambda: "unshare: Operation not permitted")
    said = []
    box = Sandbox.create(Limits(), kernels="warm", use_cgroups=False, warn=said.append)
    assert box.kernels == "cold" and "a fresh kernel per notebook" in box.describe()
    assert len(said) == 1 and "warm kernels are not available here (unshare: Operation not permitted)" in said[0]
    said.clear()
    assert Sandbox.create(Limits(), kernels="cold", use_cgroups=False, warn=said.append).kernels == "cold"
    assert said == []


PROBE = """
import sys, tempfile, nbformat
from pathlib import Path
from course_utils.grading.limits import Limits
from course_utils.grading.runner import run_recorded
from course_utils.grading.sandbox import Sandbox
sandbox = Sandbox.create(Limits(), kernels=sys.argv[1], warn=print)
root = Path(tempfile.mkdtemp(dir="/var/tmp"))
sandbox.prepare(root / "support")
cell = nbformat.v4.new_code_cell("import course_utils, course_utils.grading.guard, course_utils.clinic\\n"
                                 "print(course_utils.__file__)")
workdir = root / "work"
workdir.mkdir(mode=0o700)
run = run_recorded(nbformat.v4.new_notebook(cells=[cell]), [], cwd=workdir, timeout=240, sandbox=sandbox,
                   workdir=workdir)
print("RESULT", run.execution.status, run.execution.notebook.cells[0].outputs)
"""


@needs_sandbox
@pytest.mark.parametrize("kernels", ["warm", "cold"])
def test_a_course_checked_out_under_tmp_stays_visible_to_its_kernels(kernels):
    """A checkout (or a CI clone) under /tmp: the kernel's private /tmp must still show the course package,
    read-only, including modules the zygote never imported."""
    import shutil
    import subprocess
    import sys
    import tempfile

    checkout = Path(tempfile.mkdtemp(dir="/tmp", prefix="course-checkout-"))
    try:
        shutil.copytree(Path(sandbox_module.__file__).parents[2] / "course_utils", checkout / "course_utils",
                        ignore=shutil.ignore_patterns("__pycache__"))
        env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONWARNINGS": "ignore"}
        done = subprocess.run([sys.executable, "-c", PROBE, kernels], capture_output=True, text=True, timeout=600,
                              env=env, cwd="/")
        result = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
        assert result and result[0].startswith("RESULT ok"), done.stdout[-2000:] + done.stderr[-2000:]
        assert str(checkout / "course_utils" / "__init__.py") in result[0]
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
