"""Topic 08, optimizers & learning rates: the explorer's NumPy optimizers against torch.optim, lab 08's
AdamW reference answers against torch.optim, and the explorer's controls."""

import json

import numpy as np
import pytest
import torch

from conftest import ROOT
from course_utils.checks.optimizers import _adam_arguments
from course_utils.checks.values import from_plain
from course_utils.widgets.optimizers import OPTIMIZERS, SURFACES, descend, optimizer_explorer

ANSWERS = json.loads((ROOT / "solutions" / "answers" / "08_optimizers.json").read_text())["exercises"]

TORCH = {
    "sgd": lambda ps, lr, mu: torch.optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr, mu: torch.optim.SGD(ps, lr=lr, momentum=mu),
    "nesterov": lambda ps, lr, mu: torch.optim.SGD(ps, lr=lr, momentum=mu, nesterov=True),
    "adagrad": lambda ps, lr, mu: torch.optim.Adagrad(ps, lr=lr),
    "rmsprop": lambda ps, lr, mu: torch.optim.RMSprop(ps, lr=lr),
    "adadelta": lambda ps, lr, mu: torch.optim.Adadelta(ps, lr=lr),
    "adam": lambda ps, lr, mu: torch.optim.Adam(ps, lr=lr, betas=(mu, 0.999)),
}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("surface", ["rosenbrock", "saddle"])
def test_explorer_paths_are_torch_optim_paths(optimizer, surface):
    s = SURFACES[surface]
    lr = {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.1, "rmsprop": 0.01, "adadelta": 1.0,
          "adam": 0.05}[optimizer]
    ours = descend(surface, optimizer, lr, momentum=0.8, steps=60)
    p = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = TORCH[optimizer]([p], lr, 0.8)
    theirs = [p.detach().numpy().copy()]
    for _ in range(60):
        opt.zero_grad()
        p.grad = torch.tensor(np.stack(s.grad(*p.detach().numpy())), dtype=torch.float64)
        opt.step()
        theirs.append(p.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-9, atol=1e-12)
    assert np.abs(ours[-1] - ours[0]).max() > 1e-2  # the path moved: the comparison says something


def test_adamw_reference_answers_match_torch():
    for entry in ANSWERS["opt.adamw_step"]:
        a, want = _adam_arguments(entry["case"]), from_plain(entry["value"])
        p = torch.tensor(a["p"], requires_grad=True)
        opt = torch.optim.AdamW([p], lr=a["lr"], betas=a["betas"], eps=a["eps"], weight_decay=a["weight_decay"])
        if a["state"]:
            opt.state[p].update(step=torch.tensor(float(a["state"]["step"])),
                                exp_avg=torch.tensor(a["state"]["exp_avg"]),
                                exp_avg_sq=torch.tensor(a["state"]["exp_avg_sq"]))
        p.grad = torch.tensor(a["g"])
        opt.step()
        np.testing.assert_allclose(want["p"], p.detach().numpy(), rtol=1e-10, atol=1e-15)
        assert want["step"] == opt.state[p]["step"].item()


def test_explorer_finds_the_cliff_and_follows_its_controls():
    explorer = optimizer_explorer()
    images = {explorer.image.value}
    assert explorer.set(surface="quadratic", optimizer="sgd", lr=0.03).result["diverged_at"] is not None
    images.add(explorer.image.value)
    assert explorer.set(lr=0.015).result["diverged_at"] is None
    for values in (dict(optimizer="adam"), dict(surface="rosenbrock"), dict(surface="saddle", momentum=0.5),
                   dict(steps=50)):
        explorer.set(**values)
        images.add(explorer.image.value)
    assert len(images) == 6
    assert explorer.controls["momentum"].disabled is False
    explorer.set(optimizer="rmsprop")
    assert explorer.controls["momentum"].disabled is True  # RMSProp has no momentum
