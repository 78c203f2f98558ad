"""The model of the probe example: three BatchNorm layers with trained-looking
statistics (random weight, bias, running mean and variance)."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.stem = nn.BatchNorm2d(8)
        self.mid = nn.BatchNorm2d(8, eps=1e-3)
        self.fc = nn.Linear(8, 6)
        self.head = nn.BatchNorm1d(6)

    def forward(self, x):
        x = self.mid(torch.relu(self.stem(self.conv(x))))
        return self.head(self.fc(x.mean(dim=(2, 3))))


def build() -> nn.Module:
    torch.manual_seed(3)
    model = Net()
    with torch.no_grad():
        for bn in (model.stem, model.mid, model.head):
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-1.0, 1.0)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.05, 0.5)
    return model.eval()


def example_inputs() -> torch.Tensor:
    return torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(4))
