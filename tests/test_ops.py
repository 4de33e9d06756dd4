"""The op library: every declaration is complete and every call template renders."""

from __future__ import annotations

import ast

import pytest
from attngen import ops
from attngen.emit import render_call
from attngen.ops.base import GROUPS

FUNCTIONS = sorted(name for name, op in ops.REGISTRY.items() if not op.module)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_call_template_renders_with_only_the_required_arguments(name):
    """Arguments left out of a spec fall back to their defaults in the generated call."""
    op = ops.REGISTRY[name]
    args = {a.name: a.name for a in op.args if a.required}
    n_inputs = max(op.arity[0], 1)
    text = render_call(op, args, [f"t{i}" for i in range(n_inputs)], listed=False)
    ast.parse(text, mode="eval")  # a Python expression


@pytest.mark.parametrize("name", sorted(ops.REGISTRY))
def test_declaration_is_complete(name):
    op = ops.REGISTRY[name]
    assert op.rule and op.summary, name
    assert op.group in GROUPS
    assert op.module == bool(op.torch)
    for key in op.key_args:
        op.arg(key)  # a diagram key argument is a declared argument
