"""Models for the `toolkit verify` tests: every BatchNorm shape the runtime serves."""
import torch
from torch import nn


class AllShapes(nn.Module):
    """BatchNorm1d on (N, C) and (N, C, L), BatchNorm2d and BatchNorm3d; input (N, 6, 4, 5)."""

    def __init__(self):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(6)
        self.bn1l = nn.BatchNorm1d(6, eps=1e-3)
        self.bn2 = nn.BatchNorm2d(6)
        self.bn3 = nn.BatchNorm3d(6, affine=False)

    def forward(self, x):
        n = x.shape[0]
        a = self.bn1(x.mean(dim=(2, 3)))
        b = self.bn1l(x.reshape(n, 6, 20))
        c = self.bn2(x * 2)
        d = self.bn3(x.unsqueeze(2).expand(-1, -1, 3, -1, -1).contiguous())
        return a.sum() + b.sum() + c.sum() + d.sum()


def all_shapes():
    torch.manual_seed(0)
    m = AllShapes()
    for bn in (m.bn1, m.bn1l, m.bn2, m.bn3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        if bn.affine:
            bn.weight.data.uniform_(-1.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    return m.eval()
