"""Lesson 10, transfer learning offline: a tiny torchvision ResNet, its source task and its checkpoint.

No weights can be downloaded, so the course pretrains its own backbone: a
``torchvision.models.ResNet`` with one ``BasicBlock`` per stage and narrow
widths (8, 16, 32, 64), on the source task "digits 0-4" of scikit-learn's
bundled digits, each 8x8 digit pasted at a random place on a 12x12 canvas (the
digits of a real photo are not centred). ``scripts/pretrain_backbone.py`` runs
:func:`pretrain` and writes ``course_utils/assets/tiny_resnet_digits04.pt``;
the target task of the lesson is "digits 5-9" with few samples per class.

>>> model = tiny_resnet(num_classes=5)
>>> model.fc
Linear(in_features=64, out_features=5, bias=True)
>>> X, y = digit_images([0, 1])
>>> X.shape[1:], X.dtype
(torch.Size([1, 8, 8]), torch.float32)
>>> on_canvas(X[:3], np.random.default_rng(0)).shape
torch.Size([3, 1, 12, 12])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

CHECKPOINT = Path(__file__).parent / "assets" / "tiny_resnet_digits04.pt"
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
WIDTHS = (8, 16, 32, 64)  # narrow: a fine-tuning step costs a few milliseconds on a CPU
CANVAS = 12
PRETRAIN = {"seed": 0, "epochs": 15, "lr": 3e-3, "batch_size": 64}


class TinyResNet(ResNet):
    """torchvision's ResNet with narrow stages, for small 1-channel images (12x12 here).

    Everything but the stem comes from torchvision: ``BasicBlock``, ``_make_layer``,
    ``forward`` and the state_dict keys (``conv1``, ``layer1.0.conv1``, ..., ``fc``)
    are those of ``resnet18``; the stem is a 3x3 convolution without stride or
    max-pooling, because the images have 12x12 pixels, not 224x224.
    """

    def __init__(self, num_classes: int = 5, widths: tuple[int, ...] = WIDTHS, in_channels: int = 1):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(BasicBlock, widths[0], 1)
        self.layer2 = self._make_layer(BasicBlock, widths[1], 1, stride=2)
        self.layer3 = self._make_layer(BasicBlock, widths[2], 1, stride=2)
        self.layer4 = self._make_layer(BasicBlock, widths[3], 1, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)
        for module in self.modules():  # torchvision's own initialization
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)


def tiny_resnet(num_classes: int = 5, widths: tuple[int, ...] = WIDTHS) -> TinyResNet:
    """A randomly initialized :class:`TinyResNet` (the stand-in for ``torchvision.models.resnet18``)."""
    return TinyResNet(num_classes=num_classes, widths=tuple(widths))


def digit_images(classes) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled digits of the given classes as images ``(n, 1, 8, 8)`` in [0, 1] and labels 0..k-1
    (the position of the digit in ``classes``), in the dataset's order."""
    from course_utils.data import load_digits

    X, y = load_digits()
    classes = list(classes)
    keep = np.isin(y, classes)
    labels = np.array([classes.index(int(v)) for v in y[keep]], dtype=np.int64)
    return torch.from_numpy(X[keep].reshape(-1, 1, 8, 8)).float(), torch.from_numpy(labels).long()


def on_canvas(X: torch.Tensor, rng: np.random.Generator, size: int = CANVAS) -> torch.Tensor:
    """Paste every image of ``X`` (n, 1, h, w) at a random position of a blank ``size`` x ``size`` canvas."""
    n, channels, h, w = X.shape
    out = torch.zeros(n, channels, size, size)
    offsets = rng.integers(0, [size - h + 1, size - w + 1], size=(n, 2))
    for i, (top, left) in enumerate(offsets):
        out[i, :, top:top + h, left:left + w] = X[i]
    return out


def target_task(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The target task: digits 5-9 (labels 0-4), each at a seeded random place on the 12x12 canvas."""
    X, y = digit_images(TARGET_CLASSES)
    return on_canvas(X, np.random.default_rng(seed)), y


def pretrain(seed: int = PRETRAIN["seed"], epochs: int = PRETRAIN["epochs"], lr: float = PRETRAIN["lr"],
             batch_size: int = PRETRAIN["batch_size"]) -> dict[str, torch.Tensor]:
    """Train a :func:`tiny_resnet` on digits 0-4 (all of them, pasted at a new random place of the canvas
    every epoch) with Adam; return its state_dict.

    Deterministic: seeded, one thread, ``torch.use_deterministic_algorithms(True)``.
    """
    from course_utils.data import set_seed
    from course_utils.train import torch_threads, train_epoch

    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with torch_threads(1):
            set_seed(seed)
            X, y = digit_images(SOURCE_CLASSES)
            model = tiny_resnet(num_classes=len(SOURCE_CLASSES))
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            generator = torch.Generator().manual_seed(seed)
            rng = np.random.default_rng(seed)
            loss_fn = nn.CrossEntropyLoss()
            for _ in range(epochs):
                train_epoch(model, on_canvas(X, rng), y, opt, loss_fn, batch_size, generator)
        return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    finally:
        torch.use_deterministic_algorithms(deterministic)


def load_backbone(path: str | Path = CHECKPOINT, num_classes: int | None = None) -> TinyResNet:
    """The pretrained backbone, loaded the way torchvision models are; with ``num_classes`` its head
    ``fc`` is replaced by a fresh ``nn.Linear`` for the new task."""
    model = tiny_resnet(num_classes=len(SOURCE_CLASSES))
    model.load_state_dict(torch.load(path, weights_only=True))
    if num_classes is not None:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def split_per_class(y: np.ndarray, n_per_class: int, seed: int) -> np.ndarray:
    """Indices of ``n_per_class`` samples of every class of ``y``, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), n_per_class, replace=False)
                           for c in np.unique(y)])
