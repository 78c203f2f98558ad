"""A small conv net for `toolkit adapt MODEL`: BN2d after a conv, BN2d on a
channels_last tensor, BN1d on (N, C).  Factory: tests/adapt/adapt_model.py:net"""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.bn2 = nn.BatchNorm2d(6, momentum=None, eps=1e-3)
        self.fc = nn.Linear(6, 5)
        self.bn3 = nn.BatchNorm1d(5, momentum=0.3)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv(x)))
        h = self.bn2(h.contiguous(memory_format=torch.channels_last) * 1.5)
        return self.bn3(self.fc(h.mean(dim=(2, 3))))


def net():
    torch.manual_seed(0)
    m = Net()
    for bn in (m.bn1, m.bn2, m.bn3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(-1.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return m.eval()
