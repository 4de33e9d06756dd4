"""Identifier rules: spec names become Python variables and nn.Module attributes."""

from __future__ import annotations

import builtins
import keyword

from .errors import Loc, error

# Public attributes of torch.nn.Module (torch 2.x): a node or param with one of these
# names would shadow the module's own API when stored as `self.<name>`.
MODULE_ATTRS = frozenset((
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "type", "xpu", "zero_grad", "training",
))

# Names the generated source itself relies on.
GENERATED_NAMES = frozenset({"self", "torch", "nn", "F", "layer", "super", "math"})
BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))

MAX_NAME = 64


def check_identifier(name: object, loc: Loc, what: str, *, attribute: bool = False) -> str:
    """Validate a spec name used as a Python identifier; returns it as a plain str."""
    text = str(name)
    if not text.isidentifier() or not text.isascii():
        raise error(loc, "E104", f"{what} name '{_show(text)}' is not a valid identifier "
                    "(ASCII letters, digits and '_', not starting with a digit)")
    if len(text) > MAX_NAME:
        raise error(loc, "E104", f"{what} name '{text[:20]}...' is longer than {MAX_NAME} characters")
    if keyword.iskeyword(text) or keyword.issoftkeyword(text):
        raise error(loc, "E104", f"{what} name '{text}' is a Python keyword")
    if text.startswith("_"):
        raise error(loc, "E104", f"{what} name '{text}' may not start with '_' "
                    "(reserved for generated code)")
    if text in GENERATED_NAMES or text in BUILTIN_NAMES:
        raise error(loc, "E104", f"{what} name '{text}' is reserved: the generated code uses it")
    if attribute and text in MODULE_ATTRS:
        raise error(loc, "E104", f"{what} name '{text}' would shadow nn.Module.{text}")
    return text


def check_class_name(name: object, loc: Loc) -> str:
    text = check_identifier(name, loc, "module")
    if text in ("Module", "Sequential", "ModuleList", "Tensor"):
        raise error(loc, "E104", f"module name '{text}' would shadow a torch class")
    return text


def _show(text: str) -> str:
    """A name as it may be printed in one diagnostic line."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 40 else shown[:37] + "..."
