"""Topic 10, transfer learning offline: the pretraining script reproduces the committed checkpoint, the
backbone is a torchvision ResNet loaded the torchvision way, and the transfer explorer shows the table."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from conftest import ROOT
from course_utils.transfer import (CHECKPOINT, SOURCE_CLASSES, TARGET_CLASSES, digit_images, load_backbone,
                                   on_canvas, split_per_class, target_task, tiny_resnet)
from course_utils.widgets.transfer import transfer_explorer


# -- the checkpoint ----------------------------------------------------------------------------------

def test_pretraining_script_reproduces_the_committed_checkpoint(tmp_path):
    """The full script (seeded, one thread, deterministic algorithms; about 5-10 s) rerun from scratch gives
    a backbone equivalent to the committed one.

    On the machine that made the checkpoint the tensors are bit-identical; on another CPU the vector
    kernels round differently and training amplifies the last bits (seen: two CPUs, weights apart by
    ~1e-1 after the same seeded run). So the test asks what a reproduction must give everywhere: the same
    tensors by name and shape, weights of the same size, and the same accuracy on the source task.
    """
    out = tmp_path / "backbone.pt"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "pretrain_backbone.py"), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("pretrain seconds=")
    fresh = torch.load(out, weights_only=True)
    committed = torch.load(CHECKPOINT, weights_only=True)
    assert fresh.keys() == committed.keys()
    for key in committed:
        assert fresh[key].shape == committed[key].shape, key
        if committed[key].is_floating_point() and committed[key].numel() > 1:
            a, b = fresh[key].double().norm().item(), committed[key].double().norm().item()
            assert abs(a - b) <= 0.25 * max(a, b) + 1e-6, f"{key}: norm {a:.4g} vs committed {b:.4g}"
    X, y = digit_images(SOURCE_CLASSES)
    images = on_canvas(X, np.random.default_rng(7))
    accuracies = []
    for state in (fresh, committed):
        model = tiny_resnet(num_classes=len(SOURCE_CLASSES))
        model.load_state_dict(state)
        model.eval()
        with torch.no_grad():
            accuracies.append((model(images).argmax(1) == y).float().mean().item())
    assert min(accuracies) > 0.95 and abs(accuracies[0] - accuracies[1]) <= 0.02, accuracies


def test_checkpoint_is_small_and_loads_into_the_torchvision_architecture():
    assert 100_000 < CHECKPOINT.stat().st_size < 5_000_000
    model = load_backbone()
    assert isinstance(model, torchvision.models.ResNet)
    assert set(model.state_dict()) <= set(torchvision.models.resnet18(weights=None).state_dict())
    X, y = digit_images(SOURCE_CLASSES)
    model.eval()
    with torch.no_grad():
        accuracy = (model(on_canvas(X, np.random.default_rng(7))).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9  # it learned its source task


def test_new_head_keeps_the_pretrained_backbone():
    pretrained, adapted = load_backbone(), load_backbone(num_classes=3)
    assert adapted.fc.out_features == 3 and adapted.fc.in_features == pretrained.fc.in_features
    assert torch.equal(adapted.layer3[0].conv1.weight, pretrained.layer3[0].conv1.weight)
    assert not torch.equal(tiny_resnet().layer3[0].conv1.weight, pretrained.layer3[0].conv1.weight)


# -- the tasks ---------------------------------------------------------------------------------------

def test_source_and_target_tasks_split_the_digits():
    Xs, ys = digit_images(SOURCE_CLASSES)
    Xt, yt = target_task()
    assert len(ys) + len(yt) == 1797 and set(ys.tolist()) == set(yt.tolist()) == set(range(5))
    assert Xt.shape[1:] == (1, 12, 12)
    # every 8x8 digit is pasted whole: the canvas holds the same ink as the original image
    originals, _ = digit_images(TARGET_CLASSES)
    assert torch.allclose(Xt.sum(dim=(1, 2, 3)), originals.sum(dim=(1, 2, 3)))
    assert torch.equal(target_task()[0], Xt)  # seeded


def test_split_per_class_draws_n_of_each_class():
    y = np.repeat(np.arange(5), 20)
    idx = split_per_class(y, 3, seed=0)
    assert len(set(idx.tolist())) == 15 and np.bincount(y[idx]).tolist() == [3] * 5
    assert np.array_equal(idx, split_per_class(y, 3, seed=0))


# -- the explorer ------------------------------------------------------------------------------------

RESULTS = {"n_per_class": [1, 3, 10, 30],
           "accuracy": {"pixels + LR": [[0.25, 0.25], [0.26, 0.27], [0.35, 0.34], [0.39, 0.40]],
                        "scratch": [[0.20, 0.22], [0.23, 0.23], [0.33, 0.34], [0.46, 0.47]],
                        "features + LR": [[0.35, 0.37], [0.42, 0.42], [0.49, 0.49], [0.56, 0.56]],
                        "fine-tune": [[0.33, 0.34], [0.41, 0.42], [0.60, 0.62], [0.73, 0.74]]}}


@pytest.fixture(scope="module")
def explorer():
    return transfer_explorer(RESULTS)


def test_moving_a_control_redraws_the_picture(explorer):
    explorer.set(n_per_class=3, strategy="scratch")
    before = explorer.image.value
    explorer.controls["strategy"].value = "fine-tune"
    assert explorer.image.value != before
    after_strategy = explorer.image.value
    explorer.controls["n_per_class"].value = 30
    assert explorer.image.value != after_strategy
    assert explorer.widget.children[1] is explorer.image
    assert explorer.state == "n_per_class=30 strategy='fine-tune'"


@pytest.mark.parametrize("n, strategy, accuracy, gain, best", [
    (1, "features + LR", 0.36, 0.15, "features + LR"),
    (10, "fine-tune", 0.61, 0.275, "fine-tune"),
    (30, "pixels + LR", 0.395, -0.07, "fine-tune"),
])
def test_explorer_reads_the_table(explorer, n, strategy, accuracy, gain, best):
    result = explorer.set(n_per_class=n, strategy=strategy).result
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["gain_over_scratch"] == pytest.approx(gain)
    assert result["best"] == best
    i = RESULTS["n_per_class"].index(n)
    assert result["runs"] == RESULTS["accuracy"][strategy][i]


def test_explorer_reads_out_intervals_and_whether_differences_are_resolved():
    rng = np.random.default_rng(0)
    noise = lambda: rng.normal(0, 0.01, 5)  # noqa: E731
    results = {"n_per_class": [2, 10],
               "accuracy": {"scratch": [0.25 + noise(), 0.30 + noise()],
                            "features + LR": [0.48 + noise(), 0.62 + noise()],
                            "fine-tune": [0.47 + noise(), 0.63 + noise()]}}
    explorer = transfer_explorer(results).set(n_per_class=10, strategy="features + LR")
    result = explorer.result
    from course_utils.stats import mean_interval
    expected = mean_interval(results["accuracy"]["features + LR"][1])
    assert result["interval"] == pytest.approx(expected.half_width)
    assert result["gain_resolved"] is True                     # 0.32 above scratch, noise 0.01
    assert result["best"] == "fine-tune" and result["runner_up"] == "features + LR"
    assert result["best_resolved"] is False                    # 0.01 apart, noise 0.01: not resolved
    assert "not resolved against features + LR" in explorer.text.value
    low, high = explorer.artists["band_low"], explorer.artists["band_high"]
    # drawn on a kept background: the picture after moves equals a fresh explorer's picture
    explorer.set(n_per_class=2, strategy="scratch").set(n_per_class=10, strategy="features + LR")
    assert explorer.image.value == transfer_explorer(results).set(n_per_class=10, strategy="features + LR").image.value
    assert low.get_ydata()[1] == pytest.approx(expected.low) and high.get_ydata()[1] == pytest.approx(expected.high)
