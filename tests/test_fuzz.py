"""Property-based bad-input tests: mutated built-in specs and random YAML.

Every case is built in-process with `attngen build --no-svg` and must end in one of two
ways: exit 0 with a generated file that compiles and looks sane, or exit 1 with only
located diagnostics (`file:line:col: error[Ennn]: ...`, notes, the count line). Any
other exception is a crash.

Every run is derandomized (the same cases each time) and sized by the hypothesis profile
(tests/conftest.py): the default run replays 390 cases; `pytest -m slow` runs the
`test_long_*` tests, 5,850 cases. A search for new cases is opt-in:

    ATTNGEN_FUZZ_EXAMPLES=100000 pytest -m slow tests/test_fuzz.py

runs every strategy with that many random (not derandomized) examples each.

The attack shapes of issue 18 (several spec files, links and special files in the output
tree, child processes under limits, a torch reference) are fuzzed in test_attacks.py, with
the same profiles; killed builds are test_faults.py.
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from fuzzing import assert_outcome
from hypothesis import given, settings
from hypothesis import strategies as st

SPEC_DIR = REPO_ROOT / "specs"
SPECS = {p.name: p.read_text(encoding="utf-8") for p in sorted(SPEC_DIR.glob("*.yaml"))}
TREES = {name: yaml.load(text, Loader=yaml.CSafeLoader) for name, text in SPECS.items()}
CASE = "fuzz_case.yaml"  # the mutated spec, written next to copies of the library


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the spec library (so relative `use:` resolves) and an output folder."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(SPEC_DIR, root / "specs")
    (root / "out").mkdir()
    return root


def _run(workdir: Path, data: bytes) -> None:
    case = workdir / "specs" / CASE
    case.write_bytes(data)
    assert_outcome(case, workdir / "out")
    leftovers = [p.name for p in (workdir / "out").iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temp files left behind: {leftovers}"


# -- values -------------------------------------------------------------------------------
NASTY_STRINGS = [
    # expressions that must never run
    "__import__('os').system('true')", "os.system", "x.__class__", "lambda: 1",
    "[i for i in range(3)]", "f'{channel}'", "(yield)", "await x", "x := 1", "eval('1')",
    "globals()", "open('/etc/passwd')", "getattr(x, 'y')", "B if C else",
    # broken or extreme arithmetic
    "C // 0", "C % 0", "channel ** 99", "2 ** 2 ** 2 ** 2", "9" * 400, "-" * 50 + "1",
    "(" * 40 + "1" + ")" * 40, "1e400", "-1e400", "nan", "inf", "-inf", "1/0", "0.0",
    "max()", "min(1)", "log2(0)", "log2(-1)", "abs()", "len(1)", "int('x')", "x[0]", "x[1:2]",
    "B,", "[", "]", "", " ", "None", "True", "not", "C C", "C <", "C in C", "B is None",
    # YAML and text hazards
    '"""', "'''", "\\", "\\n", "\n", "\r\n", "\t", "\x00", "\x1b[31m", "\u202e", "\u00e9",
    "\U0001f600", "\ud7ff", "# comment", "*alias", "&anchor", "!!python/object:os.system",
    "{{ 7 * 7 }}", "{% raw %}", "}}", "$(id)", "%s%s%n",
    # names
    "self", "forward", "torch", "nn", "F", "class", "match", "_private", "__init__", "a" * 100,
    "0abc", "x-y", "B", "C", "H", "W", "channel", "reduction", "x", "out",
]
NUMBERS = st.one_of(
    st.integers(-3, 70), st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 10**12, 10**12 + 1, 10**15, 10**16, 2**63, 2**64, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, 5e-324, -0.0]),
)
SCALARS = st.one_of(
    NUMBERS, st.booleans(), st.none(), st.sampled_from(NASTY_STRINGS),
    st.text(max_size=12), st.text(alphabet="BCHWxr+-*/%() ,[]:{}0123456789", max_size=16),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=8),
                                                      st.sampled_from(NASTY_STRINGS)),
                                            inner, max_size=4)),
    max_leaves=12,
)
TOKENS = ["(", ")", "[", "]", ",", " ", "//", "**", "%", ".", "__", "lambda ", "if ", "else ",
          "for ", "in ", "'", '"', "\\", "\n", "{", "}", ":", "-", "0", "9" * 30, "1e400",
          "__import__('os')", ".__class__", "f'", "#", "*", "&", "!", "|", ">", "\t"]


def _dump(tree, allow_unicode=True, width=80) -> bytes:
    return yaml.dump(tree, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=allow_unicode,
                     width=width).encode("utf-8")


def _slots(tree, path=()):
    """Every (container, key) position in a parsed document, depth first."""
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.append((tree, k))
            out += _slots(v)
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.append((tree, i))
            out += _slots(v)
    return out


def _strings(tree) -> list[str]:
    """Every string key or value in the document (node names, references, expressions)."""
    found = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            found.append(str(k))
            found += _strings(v)
    elif isinstance(tree, list):
        for v in tree:
            found += _strings(v)
    elif isinstance(tree, str):
        found.append(tree)
    return found


def _nested(depth: int, kind: str):
    value = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


@st.composite
def mutated_spec(draw):
    """A built-in spec with one to three structural edits, dumped back to YAML."""
    name = draw(st.sampled_from(sorted(SPECS)))
    tree = copy.deepcopy(TREES[name])
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(tree)
        if not slots:
            break
        parent, key = draw(st.sampled_from(slots))
        kind = draw(st.sampled_from(["delete", "value", "rename", "reference", "expression",
                                     "cycle", "nest", "duplicate", "huge"]))
        if kind == "delete":
            del parent[key]
        elif kind == "value":
            parent[key] = draw(VALUES)
        elif kind == "rename" and isinstance(parent, dict):
            new = draw(st.one_of(st.sampled_from(NASTY_STRINGS + _strings(tree)),
                                 st.text(max_size=10)))
            value = parent.pop(key)
            parent[new] = value
        elif kind == "reference":
            parent[key] = draw(st.sampled_from(_strings(tree) or ["x"]))
        elif kind == "expression":
            text = str(parent[key])
            at = draw(st.integers(0, len(text)))
            parent[key] = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "cycle" and isinstance(tree.get("graph"), dict) and tree["graph"]:
            nodes = list(tree["graph"])
            a, b = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
            if isinstance(tree["graph"][a], dict):
                tree["graph"][a]["in"] = b  # b may come later (a cycle) or be a itself
        elif kind == "nest":
            parent[key] = _nested(draw(st.integers(1, 120)), draw(st.sampled_from(["list",
                                                                                   "map"])))
        elif kind == "duplicate" and isinstance(parent, dict):
            parent[draw(st.sampled_from(_strings(tree) or ["x"]))] = copy.deepcopy(parent[key])
        elif kind == "huge":
            parent[key] = draw(st.sampled_from([10**400, 10**18, -(10**18), 2**62, 1e308,
                                                float("inf"), float("nan"), "9" * 399]))
    return _dump(tree, allow_unicode=draw(st.booleans()), width=draw(st.sampled_from([80, 10**6])))


@st.composite
def mutated_text(draw):
    """A built-in spec's text with character-level edits (often not valid YAML)."""
    text = SPECS[draw(st.sampled_from(sorted(SPECS)))].encode("utf-8")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "dup_line", "bytes"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)).encode() + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "dup_line":
            lines = text.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
            text = b"\n".join(lines)
        else:
            text = text[:at] + draw(st.binary(min_size=1, max_size=4)) + text[at:]
    return text


SPEC_KEYS = ["name", "title", "paper", "doc", "params", "let", "requires", "inputs", "graph",
             "outputs", "init", "aliases", "extends", "edits"]
NODE_KEYS = ["op", "use", "seq", "apply", "each", "in", "shape", "when", "cases", "out", "map",
             "if_given", "doc", "args", "to", "dim", "inplace", "bias"]
OPS = ["Linear", "Conv2d", "ReLU", "Sigmoid", "mul", "add", "view", "AdaptiveAvgPool2d",
       "softmax", "cat", "split", "matmul", "permute", "Nope"]


@st.composite
def random_spec(draw):
    """Spec-shaped documents: real keys, ops and names with random values."""
    names = st.sampled_from(["x", "y", "a", "b", "out", "B", "C", "H", "W", "self", "_z"])
    node = st.dictionaries(st.sampled_from(NODE_KEYS),
                           st.one_of(names, st.sampled_from(OPS), VALUES,
                                     st.lists(st.one_of(names, st.integers(-2, 64)),
                                              max_size=4)),
                           max_size=5)
    doc = {
        "name": draw(st.one_of(st.sampled_from(["Fuzz", "fuzz", "Module", "class"]), VALUES)),
        "params": draw(st.dictionaries(names, st.one_of(NUMBERS, VALUES), max_size=3)),
        "inputs": draw(st.dictionaries(names, st.lists(names, max_size=5), max_size=2)),
        "graph": draw(st.dictionaries(names, node, max_size=5)),
        "outputs": draw(st.one_of(names, st.lists(names, max_size=3))),
    }
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS), max_size=3)):
        if draw(st.booleans()):
            doc.pop(key, None)
        else:
            doc[key] = draw(VALUES)
    return _dump(doc)


@st.composite
def random_yaml(draw):
    """Arbitrary YAML documents: any shape at the top level, anchors, tags, raw text."""
    kind = draw(st.sampled_from(["dump", "text", "anchors"]))
    if kind == "dump":
        return _dump(draw(VALUES))
    if kind == "anchors":
        n = draw(st.integers(1, 12))
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, n)]
        lines.append(draw(st.sampled_from(["name: X", "<<: *a0", "graph: *a0", "x: !!binary AA==",
                                           "t: 2001-12-14", "s: !!set {a}", "p: !!python/none"])))
        return "\n".join(lines).encode()
    alphabet = st.sampled_from(list(":-[]{},&*!|>'\"#%@ \t\nabcxyz0123<?"))
    return "".join(draw(st.lists(alphabet, max_size=60))).encode()


# -- the tests ----------------------------------------------------------------------------
# Each strategy's share of a run: cases = share x the hypothesis profile's max_examples
# (tests/conftest.py). The default profile gives 390 cases, the slow one 5,850.
STRATEGIES = {"mutated_spec": (mutated_spec(), 2.0), "mutated_text": (mutated_text(), 1.0),
              "random_spec": (random_spec(), 0.5), "random_yaml": (random_yaml(), 0.4)}
# ATTNGEN_FUZZ_EXAMPLES=N: the slow tests draw N new random cases per strategy instead.
RANDOM_EXAMPLES = int(os.environ.get("ATTNGEN_FUZZ_EXAMPLES", "0"))
# Hypothesis stops early when it runs out of distinct cases or discards too many; the
# strategies above should do neither, so nearly all of the asked cases must run.
MIN_RUN = 0.9


def _fuzz(workdir: Path, name: str, *, slow: bool) -> None:
    """Run a strategy's cases through the CLI, then check that the cases really ran."""
    strategy, share = STRATEGIES[name]
    base = settings.get_profile("slow") if slow else settings.default
    if slow and RANDOM_EXAMPLES:
        base = settings(base, max_examples=RANDOM_EXAMPLES, derandomize=False)
        share = 1.0
    asked = max(1, round(share * base.max_examples))
    ran = 0

    @settings(base, max_examples=asked)
    @given(data=strategy)
    def case(data):
        nonlocal ran
        ran += 1
        _run(workdir, data)

    case()
    assert ran >= MIN_RUN * asked, f"{name}: hypothesis ran {ran} of {asked} cases"


# The current profile's cases (default: a few hundred)...
def test_mutated_spec(workdir):
    _fuzz(workdir, "mutated_spec", slow=False)


def test_mutated_text(workdir):
    _fuzz(workdir, "mutated_text", slow=False)


def test_random_spec(workdir):
    _fuzz(workdir, "random_spec", slow=False)


def test_random_yaml(workdir):
    _fuzz(workdir, "random_yaml", slow=False)


# ... and the slow profile's thousands (or ATTNGEN_FUZZ_EXAMPLES random ones), opt-in.
@pytest.mark.slow
def test_long_mutated_spec(workdir):
    _fuzz(workdir, "mutated_spec", slow=True)


@pytest.mark.slow
def test_long_mutated_text(workdir):
    _fuzz(workdir, "mutated_text", slow=True)


@pytest.mark.slow
def test_long_random_spec(workdir):
    _fuzz(workdir, "random_spec", slow=True)


@pytest.mark.slow
def test_long_random_yaml(workdir):
    _fuzz(workdir, "random_yaml", slow=True)
