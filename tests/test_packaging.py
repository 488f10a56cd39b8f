"""The project's shape: two commands, CI, and dependencies that agree everywhere."""

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from conftest import ROOT

CONDA_NAMES = {"pytorch": "torch"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = pyproject()["project"]
    wanted = {}
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        wanted[requirement.name.lower()] = (str(requirement.specifier), str(requirement.marker or ""))
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


def test_runtime_dependencies_are_the_ones_the_course_needs():
    names = {Requirement(d).name for d in pyproject()["project"]["dependencies"]}
    assert {"jupyterlab", "ipywidgets", "torch", "torchvision", "scikit-learn", "matplotlib",
            "nbformat", "nbclient", "nbgrader"} <= names
    assert pyproject()["project"]["scripts"]["course"] == "course_utils.cli:main"


def test_constraints_pin_every_runtime_dependency():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name.lower().replace("_", "-")] = version
    for line in pyproject()["project"]["dependencies"]:
        requirement = Requirement(line)
        assert requirement.name.lower() in pinned, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned[requirement.name.lower()]), requirement


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1)
    assert [line.strip() for line in first_block.strip().splitlines()] == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: \$\(STAMP\)", makefile, re.M) and re.search(r"^test: \$\(STAMP\)", makefile, re.M)
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
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", text)
    assert links
    for link in links:
        assert (ROOT / "notebooks" / link).resolve().exists(), f"00_start_here links to a missing file: {link}"
    linked = {(ROOT / "notebooks" / link).resolve() for link in links}
    for notebook in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "exercises").glob("*.ipynb")]:
        assert notebook.resolve() in linked, f"00_start_here does not link {notebook.relative_to(ROOT)}"
