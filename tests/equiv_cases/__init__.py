"""Equivalence cases, one file per module family.

Each file defines CASES: rows of (generated file stem, class, reference "module:Class",
args, kwargs, inputs factory), and may define COVERS: spec stems (sub-specs, variants)
that its rows exercise besides the generated file stems.
"""

import torch


def rand(*shape):
    """An inputs factory: one random tensor of `shape`."""
    return lambda: (torch.randn(*shape),)
