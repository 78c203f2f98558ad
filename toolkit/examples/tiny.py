"""A small deterministic model with BatchNorm1d and BatchNorm2d layers.

    toolkit export toolkit.examples.tiny:build -o tiny.bnm --dtype s8

`build()` returns the model in eval mode; its BN running statistics come from
a few seeded train-mode forward passes and its affine parameters from a seeded
generator, so every channel has a different, non-trivial a and b.
`example_inputs()` returns deterministic calibration inputs; `toolkit export`
uses it when neither --calib nor --ranges is given.
"""
from __future__ import annotations

import torch
from torch import nn

SEED = 1234
INPUT_SHAPE = (3, 12, 12)        # (C, H, W) of one sample


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 13, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(13, eps=1e-3, momentum=0.3)
        self.fc = nn.Linear(13, 6)
        self.bn3 = nn.BatchNorm1d(6, eps=1e-4)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.fc(x.mean(dim=(2, 3))))


def _inputs(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *INPUT_SHAPE, generator=g) * 1.5 + 0.25


def build() -> nn.Module:
    torch.manual_seed(SEED)
    model = Tiny()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for bn in (model.bn1, model.bn2, model.bn3):
            c = bn.num_features
            bn.weight.copy_(torch.rand(c, generator=g) * 1.5 + 0.25)
            bn.bias.copy_(torch.randn(c, generator=g) * 0.5)
        model.train()
        for i in range(4):
            model(_inputs(16, SEED + 10 + i))
    return model.eval()


def example_inputs() -> torch.Tensor:
    """Deterministic calibration inputs, (32, 3, 12, 12) float32."""
    return _inputs(32, SEED + 100)
