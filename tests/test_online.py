"""Learners without a local install: the Colab first cell, the links to Colab and Binder, and Binder's
configuration (binder/), each checked offline."""

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from conftest import ALL_NOTEBOOKS, ROOT
from course_utils import online
from course_utils.notebooks import KernelLaunch, execute_notebook, kernel_environment, read_notebook

# Binder's PyTorch index (its CPU-only builds) is not reachable from the test machines: the tests resolve and
# install the same requirements from PyPI and the local wheels instead.
UNREACHABLE_HERE = "--extra-index-url https://download.pytorch.org/whl/cpu"
# Large binary wheels that a fresh venv borrows from .venv rather than unpacking gigabytes again (the resolve
# still checks their pinned versions; everything else is installed for real).
BORROWED = ("torch", "torchvision", "triton", "nvidia-", "cuda-")


# -- the first cell -------------------------------------------------------------------------------------------

def first_code_cell(path: Path):
    return next(cell for cell in read_notebook(path).cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_lesson_and_lab_starts_with_the_current_install_cell(path):
    cell = first_code_cell(path)
    assert cell.get("id") == online.BOOTSTRAP_ID and cell.source == online.bootstrap_source(), (
        f"{path.relative_to(ROOT)}: run `.venv/bin/python scripts/colab_cell.py` then `.venv/bin/course release`")


def test_the_cell_tool_replaces_an_old_cell_and_changes_nothing_the_second_time():
    from course_utils.notebooks import notebook_text

    nb = read_notebook(ROOT / "notebooks" / "03_initialization.ipynb")
    outdated = next(cell for cell in nb.cells if cell.get("id") == online.BOOTSTRAP_ID)
    outdated.source = "# an older install cell"
    nb.cells.remove(outdated)
    nb.cells.append(outdated)  # and in the wrong place
    once = notebook_text(online.with_bootstrap(nb))
    twice = notebook_text(online.with_bootstrap(nbformat.reads(once, as_version=4)))
    assert once == twice
    cells = nbformat.reads(once, as_version=4).cells
    assert [c.id for c in cells].count(online.BOOTSTRAP_ID) == 1
    assert next(c for c in cells if c.cell_type == "code").source == online.bootstrap_source()
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_cell.py"), "--check"], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stdout  # every source notebook and the README are current


def test_the_install_cell_is_silent_and_fast_where_the_course_is_installed():
    code = (f"import time; start = time.perf_counter()\n{online.bootstrap_source()}\n"
            "import sys; print(f'{time.perf_counter() - start:.6f}', file=sys.__stderr__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    assert float(run.stderr) < 0.1, f"the cell took {run.stderr} s"


def test_the_repository_address_is_written_once():
    """Every file that names the repository got it from course_utils/online.py (via scripts/colab_cell.py)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    owner_and_name = online.REPOSITORY.removeprefix("https://github.com/")
    for name in tracked.splitlines():
        path = ROOT / name
        if path.suffix not in (".md", ".ipynb", ".py", ".txt", ".toml", ".yml") or not path.exists() \
                or name == "course_utils/online.py":  # the one place (its doctest shows an old link)
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert online.with_current_links(text) == text, f"{name} links to another repository"
        if owner_and_name in text:
            shown = {line.strip() for line in text.splitlines() if owner_and_name in line}
            generated = [line for line in shown if "colab.research.google.com" in line or "mybinder.org" in line
                         or online.install_source() in line]
            assert len(generated) == len(shown), f"{name} writes the address by hand: {shown - set(generated)}"


def test_colab_links_open_existing_notebooks_and_cover_the_course_map():
    readme = (ROOT / "README.md").read_text()
    linked = set(online.colab_links(readme))
    assert linked, "the README's course map has Open-in-Colab links"
    for path in linked:
        assert (ROOT / path).exists(), f"README: Colab link to a missing notebook {path}"
    for notebook in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "exercises").glob("*.ipynb")]:
        assert notebook.relative_to(ROOT).as_posix() in linked, f"no Colab link to {notebook.name} in the README"
    start = read_notebook(ROOT / "notebooks" / "00_start_here.ipynb")
    in_start = {path for cell in start.cells if cell.cell_type == "markdown" for path in online.colab_links(cell.source)}
    assert in_start == linked, "00 start-here links every lesson and lab on Colab, like the README"
    assert online.binder_url() in readme, "the README has the Binder badge"


def fresh_python(folder: Path, borrow=lambda name: False) -> Path:
    """A new venv without pip. Through a .pth line it sees the packages of .venv whose distribution name
    ``borrow`` accepts (symbolic links in ``folder/borrowed``), never the course itself."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    farm = folder / "borrowed"
    farm.mkdir()
    for dist in importlib.metadata.distributions(path=[str(ours)]):
        name = dist.metadata["Name"].lower()
        if name == "training-deep-networks" or not borrow(name):
            continue
        for top in {Path(f).parts[0] for f in dist.files or []} - {".."}:
            if not (farm / top).exists() and (ours / top).exists():
                (farm / top).symlink_to(ours / top)
    (site / "borrowed.pth").write_text(f"{farm}\n")
    return python


def source_copy(folder: Path) -> None:
    """Copy what an install reads from the repository: the package, pyproject, README, constraints, binder/."""
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(ROOT / name, folder / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "course_utils", folder / "course_utils", ignore=ignore)
    shutil.copytree(ROOT / "binder", folder / "binder")


def test_the_install_cell_installs_the_course_in_a_fresh_kernel_then_a_lesson_runs(tmp_path):
    """A kernel where course_utils cannot be imported (like Colab, which has torch and friends but not the
    course): the first cell installs it, from a local build instead of the repository, and the lesson runs."""
    repo = tmp_path / "repo"
    repo.mkdir()
    source_copy(repo)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(wheels), str(repo)], check=True, capture_output=True, timeout=300)
    python = fresh_python(tmp_path / "colab", borrow=lambda name: True)  # pip, torch, ipykernel, ...
    absent = subprocess.run([str(python), "-c", "import course_utils"], capture_output=True, cwd=tmp_path)
    assert absent.returncode != 0, "course_utils must be missing before the first cell runs"

    lesson = online.with_bootstrap(read_notebook(ROOT / "notebooks" / "00_start_here.ipynb"))
    lesson.cells.append(nbformat.v4.new_code_cell("import course_utils; print(course_utils.__file__)"))
    env = kernel_environment({"COURSE_INSTALL": str(next(wheels.glob("*.whl"))), "PIP_NO_INDEX": "1"})
    launch = KernelLaunch(argv=[str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"], env=env)
    workdir = tmp_path / "content"  # Colab's working folder holds no course files
    workdir.mkdir()
    run = execute_notebook(lesson, cwd=workdir, timeout=600, launch=launch)
    assert run.status == "ok", run.summary()
    printed = "".join(output.get("text", "") for output in run.notebook.cells[-1].outputs)
    assert str(tmp_path / "colab") in printed, f"course_utils came from elsewhere: {printed}"


# -- Binder ---------------------------------------------------------------------------------------------------

def test_binder_fixes_python_and_installs_only_the_runtime():
    assert re.fullmatch(r"python-3\.\d+\n", (ROOT / "binder" / "runtime.txt").read_text())
    lines = [line.split("#")[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line]
    assert lines == [UNREACHABLE_HERE, "-c ../constraints.txt", "-e ."], "core only (no extras), tested versions"


def test_binder_requirements_resolve_and_install_into_a_fresh_venv(tmp_path):
    """repo2docker runs `pip install -r binder/requirements.txt` in the repository: the same here, in a fresh
    venv. First the whole resolve (nothing installed), then the install, torch's wheels borrowed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    source_copy(repo)
    requirements = repo / "binder" / "requirements.txt"
    requirements.write_text(requirements.read_text().replace(UNREACHABLE_HERE, ""))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]

    empty = fresh_python(tmp_path / "empty")
    start = time.perf_counter()
    resolved = subprocess.run([*pip, "--python", str(empty), "install", "--dry-run", "--quiet", "--report",
                               str(tmp_path / "report.json"), "-r", str(requirements)],
                              cwd=repo, capture_output=True, text=True, timeout=900)
    assert resolved.returncode == 0, resolved.stderr[-3000:]
    installs = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    pins = {Requirement(line).name.lower(): str(Requirement(line).specifier).removeprefix("==")
            for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")}
    assert {"torch", "torchvision", "ipykernel", "ipywidgets", "training-deep-networks"} <= set(installs)
    assert not {"jupyterlab", "nbgrader", "pytest", "playwright", "cleanlab"} & set(installs), "runtime only"
    assert all(installs[name] == pins[name] for name in installs if name in pins), "the tested versions"
    print(f"binder resolve: {time.perf_counter() - start:.1f} s, {len(installs)} packages")

    python = fresh_python(tmp_path / "binder", borrow=lambda name: name.startswith(BORROWED))
    start = time.perf_counter()
    installed = subprocess.run([*pip, "--python", str(python), "install", "--quiet", "-r", str(requirements)],
                               cwd=repo, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    print(f"binder install: {time.perf_counter() - start:.1f} s")
    code = ("import course_utils, course_utils.train, course_utils.widgets\n"
            "from course_utils.checks import check\n"
            "print(course_utils.__file__)\n"
            "check('start.accuracy', lambda y_true, y_pred: sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true))")
    used = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert used.returncode == 0, used.stderr[-3000:]
    assert used.stdout.startswith(str(repo / "course_utils")), used.stdout
    assert "✓" in used.stdout and "✗" not in used.stdout, used.stdout
