"""Progress bars (course_utils.train.progress_bar, ``progress=`` of fit, fit_seeds and heat.train_stack): in a
notebook run headless they are widgets that end full, and nothing is written to stderr (the lesson test
fails a lesson that writes there)."""

import nbformat

from conftest import ROOT
from course_utils.notebooks import execute_notebook

CELLS = [
    "from course_utils.data import load_digits\n"
    "from course_utils.train import fit, fit_seeds, mlp, progress_bar\n"
    "X, y = load_digits()\n"
    "history = fit(mlp([64, 16, 10]), X[:200], y[:200], epochs=3, progress='one network')",
    "runs = fit_seeds([64, 16, 10], X[:200], y[:200], epochs=4, seeds=range(2), progress=True)",
    "total = 0\n"
    "for k in progress_bar(range(5), 'by hand', unit='step'):\n"
    "    total += k\n"
    "total",
]


def test_bars_in_a_headless_notebook_are_full_widgets_and_write_nothing_to_stderr(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    result = execute_notebook(nb, cwd=tmp_path, timeout=120)
    assert result.status == "ok", result.summary()
    outputs = [output for cell in result.notebook.cells for output in cell.outputs]
    assert not [output for output in outputs if output.get("name") == "stderr"], outputs
    views = [output for output in outputs if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert len(views) == 3, "one bar per cell"
    models = result.notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = [model["state"] for model in models.values() if model["model_name"] == "FloatProgressModel"]
    assert sorted((bar["value"], bar["max"]) for bar in bars) == [(3, 3), (4, 4), (5, 5)]
    labels = " ".join(model["state"].get("value", "") for model in models.values() if model["model_name"] == "HTMLModel")
    labels = labels.replace("\u2007", " ")  # tqdm's bars space their text with figure spaces
    assert "one network" in labels and "by hand" in labels
