"""Models that compute something else than plain BN, or call BN in unusual ways
(the `toolkit verify` trust tests)."""
import torch
import torch.nn.functional as F
from torch import nn


def _init(bn, seed=3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=g))
        bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
        bn.weight.copy_(torch.randn(bn.num_features, generator=g))
        bn.bias.copy_(torch.randn(bn.num_features, generator=g))
    return bn


class ScaledBN(nn.BatchNorm2d):
    def forward(self, x):
        return 2 * super().forward(x) + 1


class Subclass(nn.Module):
    """input (N, 3, H, W); `odd` does more than BN, `plain` is plain BN."""
    def __init__(self):
        super().__init__()
        self.odd = _init(ScaledBN(3))
        self.plain = _init(nn.BatchNorm2d(3), 4)

    def forward(self, x):
        return self.plain(self.odd(x))


class Reused(nn.Module):
    """input (N, 3, L); the same BN on two inputs of different shape and range."""
    def __init__(self):
        super().__init__()
        self.bn = _init(nn.BatchNorm1d(3))

    def forward(self, x):
        return self.bn(x).sum() + self.bn(x[:, :, :2] * 50).sum()


class CallForms(nn.Module):
    """input (N, 3, H, W): keyword call, forward() call, F.batch_norm on the buffers."""
    def __init__(self):
        super().__init__()
        self.kw = _init(nn.BatchNorm2d(3), 1)
        self.fwd = _init(nn.BatchNorm2d(3), 2)
        self.fn = _init(nn.BatchNorm2d(3), 5)

    def forward(self, x):
        a = self.kw(input=x)
        b = self.fwd.forward(a - 1)
        f = self.fn
        return F.batch_norm(b * 3, f.running_mean, f.running_var, f.weight, f.bias, False, 0.0, f.eps)


class InPlace(nn.Module):
    """input (N, 3, H, W): the BN output and input are changed in place afterwards."""
    def __init__(self):
        super().__init__()
        self.bn = _init(nn.BatchNorm2d(3))

    def forward(self, x):
        x = x * 1.0
        y = self.bn(x)
        y.relu_()
        x.mul_(0)
        return y + x


class Strided(nn.Module):
    """input (N, 3, L): BN1d on a strided view."""
    def __init__(self):
        super().__init__()
        self.bn = _init(nn.BatchNorm3d(3))

    def forward(self, x):
        return self.bn(x.unsqueeze(2).expand(-1, -1, 3, -1, -1))


class AlwaysTrain(nn.BatchNorm2d):
    """Computes with batch statistics even in eval mode (and updates its buffers)."""
    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True, 0.1, self.eps)


class Counter(nn.Module):
    """input (N, 3, H, W): counts its calls in a buffer of its own."""
    def __init__(self):
        super().__init__()
        self.bn = _init(nn.BatchNorm2d(3))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.calls += 1
        return self.bn(x)


def counter():
    return Counter().eval()


def subclass():
    return Subclass().eval()


def reused():
    return Reused().eval()


def call_forms():
    return CallForms().eval()


def in_place():
    return InPlace().eval()


def strided():
    return Strided().eval()


def always_train():
    return nn.Sequential(_init(AlwaysTrain(3))).eval()


def compiled():
    """torch.compile with a backend that changes the outputs by 1e-3."""
    def backend(gm, _example):
        def run(*args):
            out = gm(*args)
            return [t + 1e-3 if isinstance(t, torch.Tensor) and t.is_floating_point() else t for t in out]
        return run
    return torch.compile(nn.Sequential(_init(nn.BatchNorm2d(3))).eval(), backend=backend)
