"""Pretrain lesson 10's backbone on the source task (digits 0-4) and save its checkpoint.

    python scripts/pretrain_backbone.py                 # writes course_utils/assets/tiny_resnet_digits04.pt
    python scripts/pretrain_backbone.py --out /tmp/x.pt --seed 0 --epochs 15

Deterministic (seeded, one thread, torch.use_deterministic_algorithms): the same arguments give the same
tensors, which tests/test_topic_10_transfer.py checks against the committed checkpoint. The last line
printed is `pretrain seconds=<s> source_train_accuracy=<acc> bytes=<size>`.
"""

import argparse
import time
from pathlib import Path

import torch

import numpy as np

from course_utils.transfer import CHECKPOINT, PRETRAIN, SOURCE_CLASSES, digit_images, on_canvas, pretrain, tiny_resnet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--seed", type=int, default=PRETRAIN["seed"])
    parser.add_argument("--epochs", type=int, default=PRETRAIN["epochs"])
    args = parser.parse_args()
    start = time.perf_counter()
    state = pretrain(seed=args.seed, epochs=args.epochs)
    seconds = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    model = tiny_resnet(num_classes=len(SOURCE_CLASSES))
    model.load_state_dict(state)
    model.eval()
    X, y = digit_images(SOURCE_CLASSES)
    X = on_canvas(X, np.random.default_rng(args.seed + 1000))  # fresh placements
    with torch.no_grad():
        accuracy = (model(X).argmax(1) == y).float().mean().item()
    print(f"pretrain seconds={seconds:.1f} source_train_accuracy={accuracy:.3f} bytes={args.out.stat().st_size}")


if __name__ == "__main__":
    main()
