"""Documentation: one Markdown page per spec plus an index, with the diagram as SVG, and
the op library.

Layout under the output folder (e.g. docs/):
  README.md             index: one row per module
  ops.md                the op library, from the op declarations (ops/), and how to add one
  NAME.md, img/NAME.svg  a spec in specs/
  variants/NAME.md, variants/img/NAME.svg  a spec in specs/variants/ (sub-folders mirror)
  img/palette.svg       the diagrams' colour key
  spec.md, errors.md, ...  hand-written pages (HAND_WRITTEN): no spec's page may take
                         their names, nor the index's, the op library's or the colour
                         key's (RESERVED)

Pages link to the generated source by the same mirroring (specs/variants/x.yaml ->
generated/variants/x.py). Every string that comes from a spec is escaped: free text
(title, paper, docs) as Markdown text with HTML entities, identifiers, shapes and
expressions as code spans, and `|` everywhere in tables, so no spec can break a table
or inject markup; control characters are shown as escapes (errors.visible). Link targets
are relative paths, percent-encoded (`url`), so no file name can add a scheme
(`javascript:`), end a link or split a table. Files are built in memory and written by
build.write_atomic.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from . import ops, render
from .build import Artifact, compile_spec, refusals, unique_files
from .counts import node_params, param_values
from .counts import total as params_total
from .describe import call_label, init_text, varied
from .errors import DUPLICATE_NAME, FILE_ERROR, Collector, Loc, SpecError, error, visible
from .loader import Loader
from .model import Spec, SubSpec, form_specs, tensor_decl, unwrapped
from .ops.base import GIVES
from .render import RenderError

if TYPE_CHECKING:  # results imports sympy; `attngen docs` loads it only when it checks a spec
    from .checker import CheckCache
    from .results import Checked

INDEX = "README.md"
OPS_PAGE = "ops.md"
PALETTE_SVG = "img/palette.svg"
HAND_WRITTEN = ("spec.md", "errors.md", "design.md", "integrations.md", "plugins.md")
# Paths under the output folder that no spec's page or diagram may take (compared
# ignoring case, as macOS and Windows compare names).
RESERVED = frozenset(name.casefold()
                     for name in (INDEX, OPS_PAGE, PALETTE_SVG, *HAND_WRITTEN))
_TEXT_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\d*)([#+\->=.)])")


# -- escaping ------------------------------------------------------------------------------
def text(s: object) -> str:
    """Spec prose as one line of inert Markdown: entities for <>&, backslashes for the rest."""
    s = visible(" ".join(str(s).split()))
    s = html.escape(s, quote=False)
    s = _TEXT_SPECIAL.sub(r"\\\1", s)
    return _LINE_START.sub(r"\1\\\2", s)  # no heading, list or quote at the start


def code(s: object) -> str:
    """A code span (content shown verbatim, never parsed as markup), safe inside a table."""
    s = visible(" ".join(str(s).split())).replace("|", "\\|")
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if run or s.startswith(" ") or s.endswith(" ") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return out


def _value(v: object) -> str:
    return repr(v) if isinstance(v, str) else str(v)


# -- paths ---------------------------------------------------------------------------------
def _sub_dir(spec_path: Path) -> PurePosixPath:
    """Folders between the last `specs` folder and the file (variants/ for specs/variants/)."""
    parts = spec_path.resolve().parent.parts
    if "specs" in parts:
        last = len(parts) - 1 - parts[::-1].index("specs")
        return PurePosixPath(*parts[last + 1:])
    return PurePosixPath()


def generated_path(spec_path: Path) -> Path:
    """Where `attngen build` writes a spec's source: specs/... mirrored to generated/..."""
    parts = spec_path.resolve().parts
    if "specs" in parts:
        last = len(parts) - 1 - parts[::-1].index("specs")
        return Path(*parts[:last], "generated", *parts[last + 1:-1], spec_path.stem + ".py")
    return Path("generated", spec_path.stem + ".py").resolve()


def url(relative: str | PurePosixPath) -> str:
    """A link target: a relative path with every byte but letters, digits, `/` and `-._~`
    percent-encoded (no scheme, space, parenthesis or `|` left to read as markup)."""
    return quote(PurePosixPath(relative).as_posix(), safe="/")


def _link(target: Path, page_dir: Path) -> str:
    # lexical (abspath, not resolve): the targets include output paths, which may be links
    # (a loop even) that the output refusals report before anything is written
    return url(Path(os.path.relpath(os.path.abspath(target),
                                    os.path.abspath(page_dir))).as_posix())


# -- pages ---------------------------------------------------------------------------------
class _Page:
    """One spec's documentation: where it goes and what it says."""

    def __init__(self, path: Path, checked: Checked, out_dir: Path) -> None:
        self.spec_path, self.checked, self.spec = path, checked, checked.spec
        self.out_dir = out_dir
        sub = _sub_dir(path)
        self.rel = sub / f"{path.stem}.md"  # relative to out_dir
        self.file = out_dir / self.rel
        self.svg = out_dir / sub / "img" / f"{path.stem}.svg"

    def total(self) -> int:
        return params_total(self.spec)


def _signature(spec: Spec) -> str:
    args = [p.name if p.required else f"{p.name}={_value(p.default)}"
            for p in spec.params.values()]
    return f"{spec.name}({', '.join(args)})"


def _param_rows(spec: Spec) -> list[list[str]]:
    rows = []
    for p in spec.params.values():
        if p.required:
            default = f"required (checked with {code(_value(p.example))})"
        else:
            default = code(_value(p.default))
        if p.choices:
            default += " — one of " + ", ".join(code(_value(c)) for c in p.choices)
        rows.append([code(p.name), default, text(p.doc)])
    return rows


def _tensor_rows(spec: Spec) -> list[list[str]]:
    """One row per `param:` or `buffer:` node: what it is, its shape and its initialiser."""
    rows = []
    for name, node in spec.nodes.items():
        decl = tensor_decl(node)
        if decl is None:
            continue
        kind = "parameter" if decl.kind == "param" else "buffer"
        kind += f" ({decl.dtype})" if decl.dtype != "float" else ""
        kind += ", not saved" if not decl.persistent else ""
        kind += f", if {code(node.when.text)}" if node.when is not None else ""
        rows.append([code(name), kind, code("[" + ", ".join(d.text for d in decl.shape) + "]"),
                     code(init_text(decl)), text(node.doc)])
    return rows


def _node_rows(page: _Page, pages_by_spec: dict[Path, _Page], page_dir: Path) -> list[list[str]]:
    """The nodes as the diagram shows them: the default configuration (see drawn_nodes)."""
    from .diagram import UNUSED_NOTE, drawn_nodes, holds, kept_layers, shown_params

    checked, spec = page.checked, page.spec
    defaults = param_values(spec)
    rows = []
    for name, inp in spec.sources().items():
        rows.append([code(name), "input", code(checked.shape_text(name, dtype=True)), "",
                     text(inp.doc)])
    for name, size in spec.int_inputs.items():  # forward's ints: dims of the shapes
        rows.append([code(name), "int input", code("int"), "", text(size.doc)])
    for name, node, body, values in drawn_nodes(checked):
        label = name if not node.out else f"{name} → {', '.join(node.out)}"
        what = code(call_label(body, spec))
        called = unwrapped(body.form)
        target = called.spec if isinstance(called, SubSpec) else None
        if target is not None and target.path in pages_by_spec:  # by file: names may repeat
            sub_page = pages_by_spec[target.path]
            what = f"[{text(target.name)}]({_link(sub_page.file, page_dir)}) {what}"
        if node.when is not None:
            what += f" if {code(node.when.text)}"
        if node.unused:
            what += f" ({UNUSED_NOTE})"
        shape = (checked.shape_text(name, dtype=True) if not node.out
                 else ", ".join(checked.shape_text(o, dtype=True) for o in node.out))
        params = shown_params(spec, node, body, values)
        # a node off at the defaults (drawn with its condition) is not in their total
        shown = f"{params:,}" if holds(node.when, defaults) else f"({params:,} if on)"
        rows.append([code(label), what, code(shape), shown if params else "", text(node.doc)])
    for name, node, values in kept_layers(checked):
        what = code(call_label(node, spec)) + f" ({UNUSED_NOTE})"
        if node.when is not None:
            what += f" if {code(node.when.text)}"
        params = node_params(node, values)
        rows.append([code(name), what, "", f"{params:,}" if params else "", text(node.doc)])
    for o in spec.outputs:
        when = f" if {code(o.when.text)}" if o.when is not None else ""
        rows.append([code(f"return {o.name}"), "output" + when,
                     code(checked.shape_text(o.name, dtype=True)), "", ""])
    return rows


def page_markdown(page: _Page, pages_by_spec: dict[Path, _Page]) -> str:
    """A spec's page, its shapes in the spec's lets (shown_lets)."""
    from .shown_lets import lets_shown  # sympy's printer: not on a cache hit's path

    with lets_shown(page.checked):
        return _page_markdown(page, pages_by_spec)


def _page_markdown(page: _Page, pages_by_spec: dict[Path, _Page]) -> str:
    from .diagram import drawn_at

    spec, page_dir = page.spec, page.file.parent
    title = f"# {text(spec.name)}" + (f" — {text(spec.title)}" if spec.title else "")
    lines = [title, ""]
    if spec.paper:
        lines += [f"**Paper:** {text(spec.paper)}", ""]
    if spec.doc:
        lines += [text(spec.doc), ""]
    gen = generated_path(page.spec_path)
    lines += [
        f"**Constructor:** {code(_signature(spec))}  ",
        f"**Parameters at the defaults:** {page.total():,}  ",
        (f"**Generated source:** [{code(gen.name)}]({_link(gen, page_dir)}) · "
        f"**Spec:** [{code(page.spec_path.name)}]({_link(page.spec_path, page_dir)})"),
        "",
    ]
    if spec.extends:
        base = next((p for p in pages_by_spec.values()
                     if p.spec_path.stem == Path(spec.extends).stem and p is not page), None)
        what = f"[{text(base.spec.name)}]({_link(base.file, page_dir)})" if base else \
            code(spec.extends)
        lines += [f"A variant of {what}, made by editing it (`extends:`).", ""]
    lines += ["## Constructor parameters", ""]
    if spec.params:
        lines += _table(["name", "default", "doc"], _param_rows(spec))
    else:
        lines.append("None.")
    if spec.lets:
        lines += ["", "## Derived values", "", "Computed from the parameters (`let:`); "
                  "shapes below are written with them.", "", *_table(["name", "value"], [
                      [code(let.name), code(let.expr.text)] for let in spec.lets.values()])]
    owned = _tensor_rows(spec)
    if owned:
        lines += ["", "## Learnable tensors and buffers", "",
                  "Made in `__init__` and saved in the `state_dict` under their own names "
                  "(a buffer marked not saved is left out).", ""]
        lines += _table(["name", "kind", "shape", "init", "doc"], owned)
    lines += ["", "## Diagram", "",
              f"![{text(spec.name)} dataflow diagram]({_link(page.svg, page_dir)})", "",
              ("Edges carry the tensor shape; colours follow the "
              f"[palette]({_link(page.out_dir / PALETTE_SVG, page_dir)})."),
              "", "## Nodes and shapes", ""]
    rows = _node_rows(page, pages_by_spec, page_dir)
    header = ["node", "op", "shape", "params", "doc"]
    if not any(row[-1] for row in rows):  # no node is documented: no empty column
        header, rows = header[:-1], [row[:-1] for row in rows]
    lines += _table(header, rows)
    n = len(page.checked.configs)
    if n > 1:
        at = f" ({code(at)})" if (at := drawn_at(spec)) else ""
        what = varied(spec, page.checked.configs)
        lines += ["", (f"Shapes were checked in {'both' if n == 2 else f'all {n}'} configurations"
                  f" of {what}; the table shows the defaults{at}.")]
    lines += ["", (f"Parameter count at the defaults: **{page.total():,}**, the sum of the "
              "column above, computed from the spec alone."), ""]
    return "\n".join(lines + _warning_lines(page))


def _warning_lines(page: _Page) -> list[str]:
    """The spec's warnings (lint.py; its sub-specs' too, at their files), as `check`
    prints them: code, place, message."""
    from .lint import warnings_of

    found = warnings_of(page.checked)
    if not found:
        return []
    codes = _link(page.out_dir / "errors.md", page.file.parent) + "#warnings"
    lines = ["## Warnings", "", f"`attngen check` warns about this module ([the codes]({codes}))"
             ":", ""]
    for w in found:
        where = f"{Path(w.loc.file).name}:{w.loc.line}:{w.loc.col}"
        lines.append(f"- **{w.code}** at {code(where)}: {text(w.message)}")
    return lines + [""]


def index_markdown(pages: list[_Page], out_dir: Path) -> str:
    lines = [
        "# Module library",
        "",
        (
            "Generated by `attngen docs` from the YAML specs; do not edit by hand "
            "(`attngen docs --check` fails in CI when a page is stale)."
        ),
        "",
        f"![colour key of the diagrams]({PALETTE_SVG})",
        "",
        f"The ops these modules are made of, and how to add one: [the op library]({OPS_PAGE}).",
        "",
        ("The specs of one paper are listed together: the module that uses the others "
         "first, each part it uses (↳) after it."),
        "",
    ]
    groups: dict[PurePosixPath, list[_Page]] = {}
    for page in pages:
        groups.setdefault(page.rel.parent, []).append(page)
    for folder, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if str(folder) != ".":
            lines += [f"## {text(str(folder).capitalize())}", ""]
        rows = []
        for p, depth in by_family(members):
            indent = "&emsp;" * (depth - 1) + "↳ " if depth else ""
            name = f"{indent}**{text(p.spec.name)}**" + (
                f" — {text(p.spec.title)}" if p.spec.title else ""
            )
            rows.append([name, text(_summary(p.spec.doc)), code(_signature(p.spec)),
                         f"{p.total():,}", f"[{text(p.rel.stem)}]({url(p.rel)})"])
        lines += _table(["module", "what it does", "constructor", "params at defaults", "page"],
                        rows)
        lines.append("")
    return "\n".join(lines)


def by_family(pages: list[_Page]) -> list[tuple[_Page, int]]:
    """The pages in index order with their depth: a spec another spec of the same paper
    uses (a part) comes right after its first user, one level deeper; the others (heads)
    keep their file order. CBAM's ChannelAttention and SpatialAttention follow CBAM; SDPA,
    used by DANet's position attention but a paper of its own, stays a head."""
    by_path = {p.spec_path.resolve(): p for p in pages}

    def uses(spec: Spec) -> list[Spec]:  # a loop body's uses are its spec's
        subs = [sub for node in spec.nodes.values() for sub in form_specs(node.form)]
        return [u for sub in subs for u in (uses(sub) if sub.inline else [sub])]

    def parts(page: _Page) -> list[_Page]:
        used = [by_path.get(Path(sub.path).resolve()) for sub in uses(page.spec)]
        return [u for u in used if u is not None and u is not page
                and page.spec.paper and u.spec.paper == page.spec.paper]

    placed: set[int] = {id(part) for p in pages for part in parts(p)}
    order: list[tuple[_Page, int]] = []
    listed: set[int] = set()

    def visit(page: _Page, depth: int) -> None:
        if id(page) in listed:
            return
        listed.add(id(page))
        order.append((page, depth))
        for part in sorted(parts(page), key=lambda q: str(q.spec_path)):
            visit(part, depth + 1)

    for page in pages:  # every part is reached from a head: a cycle of uses cannot load
        if id(page) not in placed:
            visit(page, 0)
    return order


def _summary(doc: str, limit: int = 160) -> str:
    """Whole sentences of the doc while they fit in `limit` characters (at least one)."""
    sentences = re.split(r"(?<=\.)\s+", " ".join(doc.split()))
    out = sentences[0]
    for s in sentences[1:]:
        if len(out) + 1 + len(s) > limit:
            break
        out += " " + s
    return out


def artifacts(paths: list[Path], out_dir: Path,
              include: Iterable[str | os.PathLike[str]] = ()) -> list[Artifact]:
    """Every page, SVG and the index, in memory; raises SpecError with all problems."""
    from .diagram import dot_source, palette_dot

    loader, issues, pages = Loader(include=include), Collector(), []
    cache: CheckCache = {}
    seen: dict[PurePosixPath, Path] = {}
    for path in unique_files(paths):
        try:
            checked = compile_spec(path, loader, cache)
        except SpecError as exc:
            issues.add(exc)
            continue
        page = _Page(path, checked, out_dir)
        if page.rel in seen:
            issues.add(
                error(
                    Loc(str(path)),
                    DUPLICATE_NAME,
                    f"docs page {page.rel} is also written for {seen[page.rel]}",
                )
            )
            continue
        taken = [str(rel) for rel in (page.rel, page.svg.relative_to(out_dir))
                 if str(rel).casefold() in RESERVED]
        if taken:
            issues.add(
                error(
                    Loc(str(path)),
                    DUPLICATE_NAME,
                    f"its docs would overwrite {taken[0]}, "
                    "which the docs folder keeps for its index, op library, "
                    "colour key or hand-written pages; rename the spec",
                )
            )
            continue
        seen[page.rel] = path
        pages.append(page)
    # spec file -> its page; a copy of the same bytes elsewhere shares it (a checkout's spec
    # and the installed library's copy that a variant's `extends:` reaches are one spec)
    by_bytes = {loader.digests.get(p.spec.path): p for p in pages}
    by_spec = {path: by_bytes[digest] for path, digest in loader.digests.items()
               if digest is not None and digest in by_bytes}
    by_spec.update((p.spec.path, p) for p in pages)
    out = [Artifact(out_dir / INDEX, index_markdown(pages, out_dir).encode()),
           Artifact(out_dir / OPS_PAGE, ops_markdown().encode())]
    try:
        out.append(Artifact(out_dir / PALETTE_SVG, render.render(palette_dot(), "svg")))
    except RenderError as exc:
        issues.add(error(Loc(str(out_dir / PALETTE_SVG)), FILE_ERROR, f"cannot draw it: {exc}"))
    for page in pages:
        reads = tuple(loader.files_of(page.spec_path))
        try:
            svg = render.render(dot_source(page.checked), "svg")
        except RenderError as exc:
            issues.add(error(Loc(loader.display(page.spec_path)), FILE_ERROR,
                             f"cannot draw {page.svg.name}: {exc}"))
            continue
        except SpecError as exc:  # a diagram over its budget
            issues.add(exc)
            continue
        out.append(Artifact(page.file, page_markdown(page, by_spec).encode(),
                            page.spec_path, reads))
        out.append(Artifact(page.svg, svg, page.spec_path, reads))
    for problem in refusals(out, out_dir):
        issues.add(problem)
    issues.raise_if_any()
    return out


# -- the op library --------------------------------------------------------------------------
# A complete op in one file, shown on the ops page; tests/test_ops.py registers and builds it.
OP_EXAMPLE = '''\
"""Pixel shuffle: channels rearranged into space (a new diagram group, with its colours)."""

from attngen.ops import KEEPS, Arg, Dtypes, Group, Op, add_group, register

add_group(Group("shuffle", fill="#e0f2f1", border="#2e7d74", legend="pixel shuffle"))


def pixel_shuffle_shape(ctx, ins, args):
    """[N, C * r**2, H, W] -> [N, C, H * r, W * r]; ctx proves C * r**2 divisible."""
    n, c, h, w = ctx.rank(ins[0], 4, "pixel_shuffle input")
    r = args["upscale_factor"]
    return (n, ctx.exact_div(c, r * r, "channels / upscale_factor**2"), h * r, w * r)


register(Op(
    "pixel_shuffle", group="shuffle",
    args=(Arg("upscale_factor", "int", low=1),),
    shape=pixel_shuffle_shape, rule="[N, C * r**2, H, W] -> [N, C, H * r, W * r]",
    summary="move channels into space (r = upscale_factor)",
    dtype=Dtypes(("any",)),  # any dtype in, the same out
    layout=KEEPS,  # a contiguous input gives a contiguous output
    call="F.pixel_shuffle({{ x }}, {{ upscale_factor }})",
    key_args=("upscale_factor",),
))
'''


def _allowed(a: ops.Arg) -> str:
    """An argument's range or choices, in words."""
    if a.choices:
        return "one of " + ", ".join(code(repr(c)) for c in a.choices)
    if a.low is not None and a.high is not None:
        return f"{a.low:g} to {a.high:g}"
    if a.low is not None:
        return f"at least {a.low:g}"
    return f"at most {a.high:g}" if a.high is not None else ""


def _op_section(op: ops.Op) -> list[str]:
    if op.module:
        how = f"Layer {code(op.torch)}"
    else:
        how = "Function " + (code(op.call) if op.call else "written by an emit hook")
    summary = op.summary[:1].upper() + op.summary[1:]
    lines = [f"### {text(op.name)}", "", f"{text(summary)}.", "",
             f"{how} · dtype {code(op.dtype.text)} · layout {code(op.layout_text)}  ",
             f"Shape: {code(op.rule)}", ""]
    if op.source != ops.BUILTIN:  # a plugin's op, or one of a module imported by hand
        lines += [f"From {text(op.source)} (not built in).", ""]
    if op.args:
        rows = [[code(a.name), code(a.type) + (" or null" if a.optional else ""),
                 "required" if a.required else code(repr(a.default)), _allowed(a)]
                for a in op.args]
        lines += _table(["argument", "type", "default", "allowed"], rows) + [""]
    return lines


def ops_markdown() -> str:
    """The op library page: every op, its arguments, shape and dtype rules; how to add one."""
    lines = ["# Op library", "",
             ("Generated by `attngen docs` from the op declarations in `codegen/attngen/ops/`; "
              "do not edit by hand. `attngen ops` prints the same in the terminal; the "
              f"modules made of these ops are in the [module library]({INDEX})."), "",
             ("A spec names an op with `op:` and gives its arguments positionally (`args:`) or "
              "by name. A **layer** is an `nn.Module` the class owns; a **function** is written "
              "inline in `forward`. Every argument has a type, checked at the default sizes "
              "like its range (E402, at the value)."), "",
             "## Argument types", ""]
    lines += _table(["type", "a spec writes"],
                    [[code(t.name), text(t.text)] for t in ops.ARG_TYPES.values()])
    lines += ["", ("An argument whose default is `None` (or declared optional) also takes "
                   "`null`."), "", "## Dtypes", "",
              ("The checker follows each tensor's dtype family: " + ", ".join(
                  code(d) for d in ops.DTYPES) + " (an input's `dtype: long` is `int`). "
               "An op's dtype rule `takes -> gives` lists the families each input may have "
               "(one entry per input, the last serving the rest; `any` is every family) and "
               "the family it gives, or how it promotes them, as PyTorch does in the order "
               "bool, int, float, complex: " + "; ".join(
                   f"{code(k)} is {v}" for k, v in GIVES.items()) + ". `(or dtype)` "
               "after it: a `dtype` argument the spec gives names the family instead "
               "(`eye`'s `dtype: bool`); several, comma-separated, are one per output "
               "(`topk`'s values and int indices: `same, int`). An input of a family the op "
               "does not take is E402."), "", "## Memory layout", "",
              ("Each op declares the layout of the tensor it makes, as torch makes it: "
               f"{code(ops.FRESH)}, a new contiguous tensor whatever its inputs are (`Linear`, "
               f"`matmul`, reductions); {code(ops.KEEPS)}, contiguous when its inputs are, "
               "else it may keep their strides (elementwise ops, conv, norms, pooling); "
               f"{code(ops.STRIDED)}, possibly not contiguous even for contiguous inputs "
               "(views: `permute`, `transpose`, `slice`, `expand`). A `view` that merges dims of "
               "a tensor that may be strided (a module's input is: a caller may pass any "
               "layout) is written `reshape`, which torch never refuses (`docs/spec.md` in "
               "attngen's repository, \"view and reshape\"). An op that declares no layout is "
               f"taken as {code(ops.STRIDED)}."), ""]
    by_group: dict[str, list[ops.Op]] = {}
    for op in sorted(ops.REGISTRY.values(), key=lambda o: o.name.lower()):
        by_group.setdefault(op.group, []).append(op)
    for name, group in ops.GROUPS.items():
        if name in by_group:
            lines += [f"## Group {text(name)}", "",
                      f"Drawn in the colours of {text(group.legend)} in diagrams.", ""]
            for op in by_group[name]:
                lines += _op_section(op)
    lines += ["## Adding an op", "",
              ("An op is one declaration in one file. A built-in op goes in the module of its "
               "family in `codegen/attngen/ops/` (`layers.py`, `norms.py`, `tensor.py`, "
               "`elementwise.py`, `reductions.py`, `shaping.py`, `constants.py`, `einsum.py`), "
               "which imports these names from `.base` (a new family module is one more name on "
               "the "
               "import line of `ops/__init__.py`); nothing else in "
               "attngen changes, since the checker, the emitter, the diagrams and this page all "
               "read the declaration. The same declaration in a module of your own adds the op "
               "while that module is imported (`import my_ops`, then `attngen.compile(...)`), "
               "and in an installed package it adds the op for every spec and command "
               "(`docs/plugins.md` in attngen's repository builds one). For example:"), "",
              "```python", OP_EXAMPLE.rstrip("\n"), "```", "",
              "What each part declares:", "",
              ("- `args`: the arguments in PyTorch's order, each with a type from the table "
               "above, a default (none: required) and a range (`low`, `high`);"),
              ("- `shape`: the shape rule, written against `ShapeCtx` "
               "(`codegen/attngen/ops/ctx.py`): it proves equalities and divisibility for "
               "every size the spec allows, or fails with a located error; an output size "
               "that can shrink below 1 (a window wider than a small input, a crop) asks "
               "`ctx.at_least` for its bound, given the size (`ops/windows.py`); `rule` says "
               "it in words for messages and this page;"),
              ("- `dtype`: the dtype rule (default: float in, the same out);"),
              ("- `layout`: the memory layout of the output (above; default "
               f"{code(ops.STRIDED)}, so that a `view` after the op is written `reshape`);"),
              ("- `call`: a Jinja template of the call in `forward` (`x`, `ins`, each argument "
               "by name; see `ops/tensor.py`); a layer gives `module=True, torch=\"nn.Name\"` "
               "instead, with `params` counting its parameters and `factory=True` where its "
               "constructor takes torch's `device=` and `dtype=` (generated code passes the "
               "module's own on); a call no template can write "
               "gives `emit`, a function of the `CallSite` (input names, argument sources, "
               "literal values, the entries of mapping arguments and the inputs' checked "
               "shapes) that returns the expression, as `slice`, `rearrange` and `attention` "
               "do;"),
              ("- `group`: the diagram group, whose colours boxes take; a new one is declared "
               "once with `add_group(Group(...))` beside the op, and the diagrams' colour key "
               "shows its `legend`;"),
              ("- `key_args`: the arguments diagram boxes show, by position while they "
               "are the op's first arguments in order, then by name."), ""]
    return "\n".join(lines)
