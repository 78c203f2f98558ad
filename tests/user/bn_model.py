"""A small model for the user-kernel tests: BatchNorm2d, BatchNorm1d on
(N, C, L) and on (N, C), with random weight, bias and running statistics so
that every mistake in the catalogue changes the outputs."""
import torch
from torch import nn
from user_helpers import make_bn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn2d = make_bn(4, seed=11, dims=2)
        self.bn1d = make_bn(4, seed=12, dims=1)
        self.fc = nn.Linear(4 * 6, 5)
        self.head = make_bn(5, seed=13, dims=1)

    def forward(self, x):                  # x: (N, 4, 6, 5)
        x = self.bn2d(x)
        x = self.bn1d(x.mean(dim=3))       # (N, 4, 6)
        return self.head(self.fc(x.flatten(1)))


def build() -> nn.Module:
    torch.manual_seed(5)
    return Net().eval()


def example_inputs() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(6, 4, 6, 5, generator=g) * 1.5 + 0.3
