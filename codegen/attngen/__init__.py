"""attngen: attention modules as checked YAML dataflow graphs.

The Python API::

    import attngen

    se = attngen.load("specs/se.yaml")      # or a built-in name: attngen.load("se")
    se.shape("fc")                          # '(B, channel)'
    se.dims("fc")                           # (B, channel) as sympy expressions
    se.params                               # {'channel': 512, 'reduction': 16}
    se.param_count(channel=256)             # 8192, from the spec alone (no torch)

    SE = attngen.compile("specs/se.yaml")   # the nn.Module class, built in memory
    model = SE(channel=64, reduction=4)

Importing attngen is cheap: sympy, Jinja and torch are imported only when used.
"""

from __future__ import annotations

import builtins
import linecache
import os
import types
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import counts, params
from .binding import Binding, binding
from .build import builtin_spec, compile_spec, not_found_message
from .errors import FILE_ERROR, Loc, SpecError, did_you_mean, error, visible
from .loader import Loader
from .model import Spec
from .ops import PluginError
from .recheck import recheck
from .render import RenderError
from .render import render as render_dot

if TYPE_CHECKING:  # results imports sympy: only where used
    from .results import Checked, ValueShape

__all__ = ["LoadedSpec", "PluginError", "SpecError", "compile", "load"]
__version__ = "0.1.0"  # the one place it is set: pyproject.toml reads it from here


class LoadedSpec:
    """A spec that passed the checker: its nodes' symbolic shapes, params and source."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked

    @property
    def spec(self) -> Spec:
        """The parsed `attngen.model.Spec`."""
        return self.checked.spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params(self) -> dict[str, object]:
        """Constructor params and the values checked: defaults, or examples if required."""
        return {p.name: p.sample for p in self.spec.params.values()}

    @property
    def nodes(self) -> list[str]:
        """Node names in execution order."""
        return [n for n in self.checked.order if n in self.spec.nodes]

    def _known(self, name: str) -> None:
        from .results import LAYER, several_outputs

        if name in self.checked.nodes and self.checked.nodes[name].output is LAYER:
            raise ValueError(f"'{name}' declares a layer (no 'in:'); it has no tensor shape")
        if name in self.checked.nodes:
            output = self.checked.nodes[name].output
            if isinstance(output, dict):  # each of its outputs has a shape, the node none
                raise ValueError(several_outputs(name, output))
        if name in self.checked.inputs or name in self.checked.nodes:
            return
        for info in self.checked.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return
        known = [*self.checked.inputs, *self.checked.nodes]
        raise KeyError(f"{self.name} has no node or input '{name}'" + did_you_mean(name, known))

    def shape(self, name: str) -> str:
        """The checked symbolic shape of a node or input as text, e.g. '(B, channel)'."""
        self._known(name)
        return self.checked.shape_text(name)

    def dims(self, name: str) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        """The checked shape as a tuple of sympy expressions (a list of tuples for a node
        whose value is a list of tensors)."""
        self._known(name)
        node = self.checked.nodes.get(name)
        value: ValueShape
        if name in self.checked.inputs:
            value = self.checked.inputs[name]
        elif node is not None and not isinstance(node.output, dict):
            value = node.output
        else:
            value = next(i.output[name] for i in self.checked.nodes.values()
                         if isinstance(i.output, dict) and name in i.output)
        return [tuple(v) for v in value] if isinstance(value, list) else tuple(value)

    @property
    def binding(self) -> Binding:
        """Which params are sizes of the first input's dims (SE's `channel` is the `C` of
        `[B, C, H, W]`): what timm and ultralytics fill in (attngen.binding)."""
        return binding(self.checked)

    def param_count(self, **values: object) -> int:
        """Total parameters at the given param values (defaults otherwise); no torch."""
        return counts.total(self.spec, self._values(values))

    def param_counts(self, **values: object) -> dict[str, int]:
        """Parameters per node (nodes switched off by `when:` left out)."""
        return counts.per_node(self.spec, self._values(values))

    def _values(self, values: dict[str, object]) -> dict[str, object]:
        for name in values:
            if name not in self.spec.params:
                raise TypeError(f"{self.name} has no param '{name}'"
                                + did_you_mean(name, self.spec.params))
        params.check_requires(self.spec, counts.param_values(self.spec, values))
        params.check_shapes(self.spec, values)
        return values

    def source(self, *, spec_refs: bool = False, fuse: bool = True) -> str:
        """The generated Python source (what `attngen build` writes; with `spec_refs`, what
        `attngen build --spec-refs` writes; without `fuse`, what `--no-fuse` writes). The spec
        and its sub-specs are checked again first, as the loader checks a file (`recheck`): a
        Spec object may have been built or edited in Python."""
        from .emit import render

        specs, todo = [], [self.checked]
        while todo:
            checked = todo.pop()
            specs.append(checked.spec)
            todo += checked.subs.values()
        recheck(*specs)
        return render(self.checked, spec_refs=spec_refs, fuse=fuse)

    def compile(self, *, name: str | None = None, spec_refs: bool = False,
                fuse: bool = True) -> type:
        """The nn.Module class; see `attngen.compile`."""
        return compile(self, name=name, spec_refs=spec_refs, fuse=fuse)

    def svg(self) -> str:
        """The diagram as SVG text, as `attngen diagram SPEC` draws it."""
        from .diagram import dot_source

        return render_dot(dot_source(self.checked)).decode("utf-8")

    def _repr_svg_(self) -> str | None:
        """Jupyter shows the diagram inline; None (text only) where it cannot be drawn."""
        try:
            return self.svg()
        except RenderError:
            return None

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict:
        """The diagram and the one-line repr, for Jupyter's display machinery."""
        bundle = {"text/plain": repr(self)}
        svg = self._repr_svg_()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle

    def __repr__(self) -> str:  # shown by a REPL: a file name's controls as escapes
        return f"<LoadedSpec {self.name} from {visible(self.spec.file)}>"


def _path(ref: str | os.PathLike[str]) -> Path:
    """A spec file, or the path of a built-in spec named `ref` (`eca`, `eca.yaml`)."""
    path = Path(ref)
    if path.is_file():
        return path
    builtin = builtin_spec(str(ref))
    if builtin is None:
        raise error(Loc(str(ref)), FILE_ERROR, not_found_message(str(ref)))
    return builtin


def load(path: str | os.PathLike[str], *,
         include: Iterable[str | os.PathLike[str]] = ()) -> LoadedSpec:
    """Load and check a spec file or built-in name; raises SpecError with located errors
    (PluginError if an installed op plugin fails to load: docs/plugins.md).

    `use:` and `extends:` read specs in the spec's own folder and below and in the built-in
    library; `include` names more folders they may read (the command line's `-I DIR`)."""
    return LoadedSpec(compile_spec(_path(path), Loader(include=include), {}))


def _checked(obj: LoadedSpec | Checked | Spec | str | os.PathLike[str],
             include: Iterable[str | os.PathLike[str]] = ()) -> Checked:
    from .checker import check
    from .results import Checked

    if isinstance(obj, LoadedSpec):
        return obj.checked
    if isinstance(obj, Checked):
        return obj
    if isinstance(obj, Spec):  # built or edited in Python: checked as a file would be
        recheck(obj)
        return check(obj, {})
    return load(obj, include=include).checked


def compile(path_or_spec: LoadedSpec | Checked | Spec | str | os.PathLike[str], *,
            name: str | None = None,  # shadows the builtin: the API verb
            include: Iterable[str | os.PathLike[str]] = (),
            spec_refs: bool = False, fuse: bool = True) -> type:
    """The generated nn.Module class of a spec, built in memory (no files written).

    `path_or_spec`: a spec file, a built-in name, a `LoadedSpec` (from `load`), or a
    `Spec`; a `Spec` object is checked as the loader checks a file (names, expressions,
    values: SpecError otherwise) before any source is made. `name` picks another class of
    the same source (a sub-spec's, e.g. 'ChannelAttention' of CBAM); by default the spec's
    own class. `include`: as for `load`, for a spec file. `spec_refs`: compile the source
    `attngen build --spec-refs` writes; `fuse=False`, what `--no-fuse` writes (attention as
    the spec writes it, not one fused call). Needs torch.
    """
    checked = _checked(path_or_spec, include)
    spec = checked.spec
    source = LoadedSpec(checked).source(spec_refs=spec_refs, fuse=fuse)
    filename = f"<attngen {spec.file}>"
    module = types.ModuleType(f"attngen_compiled_{spec.name}", spec.title or None)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = builtins.compile(source, filename, "exec")
    exec(code, module.__dict__)  # noqa: S102  (our own generated source, never spec text)
    wanted = name or spec.name
    cls = module.__dict__.get(wanted)
    if not isinstance(cls, type):
        classes = [k for k, v in module.__dict__.items()
                   if isinstance(v, type) and v.__module__ == module.__name__]
        raise KeyError(f"{spec.file} defines no class '{wanted}'" + did_you_mean(wanted, classes)
                       + f" (classes: {', '.join(classes)})")
    return cls
