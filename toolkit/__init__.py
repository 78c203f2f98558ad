"""bnrt toolkit: export PyTorch BatchNorm to microcontrollers and verify it on the board."""
from __future__ import annotations

__version__ = "0.1.0"


def export(model, *args, **kwargs):
    """Export an nn.Module's BatchNorm layers to .bnm bytes (see toolkit.model.export)."""
    from .model.export import export as _export
    return _export(model, *args, **kwargs)
