"""The package's import graph, read from the source with `ast` (nothing is imported).

Rules, for every module of codegen/attngen (imports at module level, inside functions and
under `if TYPE_CHECKING:`, relative and absolute, all count):
- no import cycle among the package's modules (a package's `__init__` importing its own
  submodules is not an edge: that is how a package is put together);
- no module imports another module's `_private` names, neither `from .x import _name` nor
  `from . import x` and then `x._name`;
- nothing imports the command line (`attngen.cli`): it sits on top of the library;
- an import inside a function is allowed only where it defers a heavy library: sympy,
  jinja2, torch or networkx (`import attngen` and a cached build must not load them; the
  Graphviz renderer runs in a subprocess and imports nothing), directly or through a
  package module that imports one of them at module level (an import under
  `if TYPE_CHECKING:` runs never and loads nothing). Every other import is at the top of
  its module, where a reader sees what the module depends on;
- no module is longer than 600 lines.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "codegen" / "attngen"
# the serve extra's libraries too: optional, imported only by `serve` and `build --watch`
HEAVY = ("sympy", "jinja2", "torch", "networkx", "starlette", "uvicorn", "watchfiles")
MAX_LINES = 600


@dataclass
class Import:
    source: str  # the importing module
    target: str  # a package module, or the top-level name of an outside one
    names: tuple[str, ...]  # names taken from a package module (`from .x import a, b`)
    in_function: bool
    line: int
    type_only: bool = False  # under `if TYPE_CHECKING:`: read by type checkers, never run


def _modules(root: Path) -> dict[str, Path]:
    mods = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _is_package(mods: dict[str, Path], name: str) -> bool:
    return mods[name].name == "__init__.py"


def _imports(mods: dict[str, Path], name: str, tree: ast.Module) -> list[Import]:
    """Every import statement of one module, resolved to what it imports."""
    package = name if _is_package(mods, name) else name.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            typing = type_only or isinstance(child, ast.If) and "TYPE_CHECKING" in \
                ast.unparse(child.test)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = alias.name if alias.name in mods else alias.name.split(".")[0]
                    found.append(Import(name, target, (), in_function, child.lineno, type_only))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                if module == "__future__":
                    continue
                if module not in mods:  # outside the package
                    found.append(Import(name, module.split(".")[0], (), in_function,
                                        child.lineno, type_only))
                    continue
                taken = []
                for alias in child.names:
                    sub = f"{module}.{alias.name}"
                    if sub in mods:  # `from . import ops`: the module itself
                        found.append(Import(name, sub, (), in_function, child.lineno,
                                            type_only))
                    else:
                        taken.append(alias.name)
                if taken:
                    found.append(Import(name, module, tuple(taken), in_function, child.lineno,
                                        type_only))
            visit(child, inner, typing)

    visit(tree, False, False)
    return found


class Graph:
    def __init__(self, root: Path):
        self.mods = _modules(root)
        self.trees = {n: ast.parse(p.read_text(encoding="utf-8")) for n, p in self.mods.items()}
        self.imports = [i for n in self.mods for i in _imports(self.mods, n, self.trees[n])]

    def internal(self) -> list[Import]:
        return [i for i in self.imports if i.target in self.mods]

    def cycles(self) -> list[list[str]]:
        g = nx.DiGraph()
        for i in self.internal():
            own_submodule = _is_package(self.mods, i.source) and \
                i.target.startswith(i.source + ".")
            if i.target != i.source and not own_submodule:
                g.add_edge(i.source, i.target)
        # each cycle in import order, from its first module by name
        return sorted(c[c.index(min(c)):] + c[:c.index(min(c))] for c in nx.simple_cycles(g))

    def private_imports(self) -> list[str]:
        found = [f"{i.source}:{i.line} imports {i.target}.{n}" for i in self.internal()
                 for n in i.names if n.startswith("_") and not n.startswith("__")
                 and i.target != i.source]
        for name, tree in self.trees.items():
            bound = {}  # local name -> package module (`from . import render`)
            for i in _imports(self.mods, name, tree):
                if i.target in self.mods and not i.names and i.target != name:
                    bound[i.target.rpartition(".")[2]] = i.target
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and node.value.id in bound and node.attr.startswith("_") \
                        and not node.attr.startswith("__"):
                    found.append(f"{name}:{node.lineno} uses "
                                 f"{bound[node.value.id]}.{node.attr}")
        return found

    def cli_importers(self) -> list[str]:
        return [f"{i.source}:{i.line}" for i in self.internal() if i.target.endswith(".cli")]

    def heavy(self) -> set[str]:
        """Package modules that load a heavy library when imported (module-level imports)."""
        heavy: set[str] = set()
        changed = True
        while changed:
            changed = False
            for i in self.imports:
                if i.in_function or i.type_only or i.source in heavy:
                    continue
                if i.target in HEAVY or i.target in heavy:
                    heavy.add(i.source)
                    changed = True
        return heavy

    def needless_function_imports(self) -> list[str]:
        heavy = self.heavy()
        return [f"{i.source}:{i.line} imports {i.target} inside a function" for i in self.imports
                if i.in_function and i.target not in HEAVY and i.target not in heavy]

    def long_modules(self) -> list[str]:
        sizes = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in self.mods.items()}
        return [f"{n}: {k} lines" for n, k in sorted(sizes.items()) if k > MAX_LINES]


GRAPH = Graph(PACKAGE)


def test_the_graph_is_read():
    # the reader itself: it finds the package's modules and both kinds of import
    assert {"attngen", "attngen.cli", "attngen.ops", "attngen.ops.base"} <= set(GRAPH.mods)
    assert any(i.in_function for i in GRAPH.imports)
    assert any(not i.in_function and i.target == "attngen.ops" for i in GRAPH.imports)
    assert "attngen.verify" in GRAPH.heavy() and "attngen.errors" not in GRAPH.heavy()


def test_no_import_cycles():
    cycles = GRAPH.cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


def test_no_private_imports_across_modules():
    found = GRAPH.private_imports()
    assert not found, "\n".join(found)


def test_nothing_imports_the_command_line():
    found = GRAPH.cli_importers()
    assert not found, "attngen.cli imported by: " + ", ".join(found)


def test_imports_inside_functions_only_defer_heavy_libraries():
    found = GRAPH.needless_function_imports()
    assert not found, "move these to the top of their module:\n" + "\n".join(found)


def test_no_module_is_too_long():
    found = GRAPH.long_modules()
    assert not found, f"modules over {MAX_LINES} lines: " + ", ".join(found)


def test_the_rules_catch_what_they_name(tmp_path):
    # a small package with one of each fault: the checks above are not vacuous
    pkg = tmp_path / "attngen"
    pkg.mkdir()
    files = {
        "__init__.py": "from . import a\n",
        "a.py": "from .b import _hidden\n\ndef f():\n    import json\n    from . import b\n",
        "b.py": "import sympy\nfrom . import c\n_hidden = 1\n",
        "c.py": "from . import a\n\ndef g():\n    from . import b\n    return a._x\n",
        "cli.py": "",
        "d.py": "from . import cli\n" + "x = 1\n" * MAX_LINES,
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    g = Graph(pkg)
    # imports inside functions count: c's import of b closes a second cycle
    assert g.cycles() == [["attngen.a", "attngen.b", "attngen.c"], ["attngen.b", "attngen.c"]]
    assert g.private_imports() == ["attngen.a:1 imports attngen.b._hidden",
                                   "attngen.c:5 uses attngen.a._x"]
    assert g.needless_function_imports() == ["attngen.a:4 imports json inside a function"]
    assert g.long_modules() == ["attngen.d: 601 lines"]
    assert g.cli_importers() == ["attngen.d:1"]
    assert g.heavy() == {"attngen.a", "attngen.b", "attngen.c", "attngen"}


def test_error_codes_are_named_constants():
    """Every diagnostic names its code by a constant of errors.py (UNKNOWN_KEY, ...), which
    mypy holds to the ErrorCode type: no module writes a bare 'E101'."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and re.fullmatch(r"[EW]\d{3}", node.value):
                bare.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not bare, "use the constants of attngen.errors:\n" + "\n".join(bare)
