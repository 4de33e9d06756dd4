"""The README and the hand-written docs stay true.

README.md: its first commands, the tour (the spec listing, the generated excerpt, the error
example), the module tables against specs/, the command table against the CLI.
docs/errors.md: exactly the error and warning codes, each example printing what the page
shows.
docs/spec.md: its full specs check, its reserved names are the ones attngen reserves.
Every relative link of the hand-written pages resolves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from attngen import docs, expr_source, names
from attngen.cli import main
from attngen.errors import CODES, WARNING_CODES
from conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CI = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
DOCS = REPO_ROOT / "docs"
ERRORS = (DOCS / "errors.md").read_text(encoding="utf-8")
SPEC_REF = (DOCS / "spec.md").read_text(encoding="utf-8")
# Written by hand; every other Markdown file in docs/ is written by `attngen docs`.
HAND_WRITTEN_DOCS = ("spec.md", "errors.md", "design.md", "plugins.md", "integrations.md",
                     "serve.md", "writing-a-module.md")
HAND_WRITTEN = ("README.md", "CHANGELOG.md", "benchmarks/README.md",
                *(f"docs/{name}" for name in HAND_WRITTEN_DOCS))


def _commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def _section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    end = text.find(f"\n{level} ", start + len(heading))
    return text[start:end if end != -1 else len(text)]


def _tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables of `text`: rows (header and separator dropped) of cells."""
    tables = []
    for block in re.findall(r"(?:^\|.*\n)+", text, re.MULTILINE):
        rows = [re.split(r"(?<!\\)\|", line.strip())[1:-1] for line in block.splitlines()[2:]]
        tables.append([[cell.strip() for cell in row] for row in rows])
    return tables


def _run(argv, capsys) -> str:
    """The CLI's output as a terminal shows it: standard output, then standard error."""
    main(argv)
    out, err = capsys.readouterr()
    return out + err


# -- README: the set-up commands ---------------------------------------------------------------
def test_starts_with_the_two_commands():
    main_job, tests = _commands()[:2]
    assert main_job.endswith("attngen build specs/eca.yaml")
    assert tests.endswith("python -m pytest -q")
    assert README.index(main_job) < README.index("## ")  # before any section


def test_ci_runs_the_readme_test_command_verbatim():
    assert _commands()[1] in CI


# -- README: the tour ------
def test_tour_shows_the_eca_spec_as_it_is():
    listing = _blocks(_section(README, "## A tour"), "yaml")[0]
    assert listing == (REPO_ROOT / "specs/eca.yaml").read_text(encoding="utf-8")


def test_tour_excerpt_is_the_generated_code():
    """Every line shown (`...` stands for lines left out) is in generated/eca.py, in order."""
    excerpt = _blocks(_section(README, "## A tour"), "python")[0]
    generated = (REPO_ROOT / "generated/eca.py").read_text(encoding="utf-8").splitlines()
    at = 0
    for line in excerpt.splitlines():
        if line.strip() in ("", "..."):
            continue
        assert line in generated[at:], f"not in generated/eca.py (in order): {line!r}"
        at = generated.index(line, at) + 1


def test_tour_error_example_is_what_check_prints(tmp_path, monkeypatch, capsys):
    shown = _blocks(_section(README, "## A tour"), "text")[0]
    command, expected = shown.split("\n", 1)
    assert command == "$ attngen check eca_bad.yaml"
    eca = (REPO_ROOT / "specs/eca.yaml").read_text(encoding="utf-8")
    bad = eca.replace("padding: (kernel_size - 1) // 2", "padding: 0")
    assert bad != eca and "`padding: 0` instead of `(kernel_size - 1) // 2`" in README
    (tmp_path / "eca_bad.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(["check", "eca_bad.yaml"], capsys) == expected


# -- README: the module library ------
def _library_tables():
    library, variants = _tables(_section(README, "## The module library"))
    return library, variants


def _class_name(path: Path) -> str:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["name"]


@pytest.mark.parametrize("table, folder", [(0, "specs"), (1, "specs/variants")])
def test_library_tables_list_exactly_the_specs(table, folder):
    """Each row names a spec and its class; with the sub-specs named in the rows, every
    spec file of the folder appears exactly once."""
    rows = _library_tables()[table]
    mentioned = [name for row in rows for name in re.findall(r"`(\w+\.yaml)`", " ".join(row))]
    files = sorted(p.name for p in (REPO_ROOT / folder).glob("*.yaml"))
    assert sorted(mentioned) == files
    for spec_cell, class_cell, _ in rows:
        path = REPO_ROOT / folder / spec_cell.strip("`")
        assert class_cell.startswith(f"[{_class_name(path)}]("), (spec_cell, class_cell)


def test_library_lists_every_spec_and_variant():
    for folder in ("specs", "specs/variants"):
        for path in sorted((REPO_ROOT / folder).glob("*.yaml")):
            assert f"`{path.name}`" in README, f"{folder}/{path.name} missing from the README"


# -- README: the commands ------
def _help(argv, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")  # argparse wraps at the terminal width
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def _option_groups(help_text: str) -> list[set[str]]:
    """Each option of a help text as the set of its spellings ({'-o', '--out'})."""
    groups = []
    for line in help_text.splitlines():
        head = re.split(r"\s{2,}", line.strip())[0]
        if line.startswith("  -") and head:
            groups.append(set(re.findall(r"(?:^|, )(--?[\w-]+)", head)))
    return [g for g in groups if not g & {"-h", "--help", "--version"}]


def test_command_table_matches_the_cli(capsys, monkeypatch):
    rows = _tables(_section(README, "## Commands"))[0]
    listed = {}
    for usage, _ in rows:
        words = usage.strip("`").split()
        assert words[0] == "attngen", usage
        listed[words[1]] = usage
    top = _help([], capsys, monkeypatch)
    commands = re.findall(r"^    (\w+)  ", top, re.MULTILINE)
    assert sorted(listed) == sorted(commands)
    for command, usage in listed.items():
        text = _help([command], capsys, monkeypatch)
        shown = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage))
        groups = _option_groups(text)
        known = set().union(*groups) if groups else set()
        assert shown <= known, f"{command}: {shown - known} not options of `attngen {command}`"
        for group in groups:
            assert group & shown, f"`attngen {command}` option {sorted(group)} not in the README"
        for word in re.findall(r"\b[A-Z][A-Z_]*\b", usage):  # PATH, SPEC, NAME=VALUE, TB ...
            assert word in text, f"{command}: {word} not in its --help"


# -- docs/errors.md ------
def test_error_code_table_matches_the_codes():
    rows = dict(re.findall(r"^\| (E\d{3}) \| (.+?) \|$", ERRORS, re.MULTILINE))
    assert rows == CODES


def test_error_sections_follow_the_codes():
    headings = re.findall(r"^## (E\d{3}): (.+)$", ERRORS, re.MULTILINE)
    assert headings == list(CODES.items())


def _error_examples() -> list[tuple[str, str, str]]:
    """(file name, spec text, what the page says the command prints) per example."""
    found = re.findall(r"^```yaml\n# (\S+)\n(.*?)^```\n\n```text\n(.*?)^```$", ERRORS,
                       re.MULTILINE | re.DOTALL)
    return [(name, f"# {name}\n{body}", shown) for name, body, shown in found]


def test_warning_code_table_matches_the_codes():
    rows = dict(re.findall(r"^\| (W\d{3}) \| (.+?) \|$", ERRORS, re.MULTILINE))
    assert rows == WARNING_CODES


def test_warning_sections_follow_the_codes():
    headings = re.findall(r"^## (W\d{3}): (.+)$", ERRORS, re.MULTILINE)
    assert headings == list(WARNING_CODES.items())
    assert ERRORS.index("\n## Warnings\n") < ERRORS.index(f"\n## {headings[0][0]}: ")


def test_every_code_has_an_example():
    shown = "".join(example[2] for example in _error_examples())
    for code in CODES:
        assert f"error[{code}]" in shown, code
    for code in WARNING_CODES:
        assert f"warning[{code}]" in shown, code


@pytest.mark.usefixtures("one_torch_thread")  # E600 runs `attngen verify`
@pytest.mark.parametrize("name, spec, shown", _error_examples(),
                         ids=[example[0] for example in _error_examples()])
def test_error_example_prints_what_the_page_shows(name, spec, shown, tmp_path, monkeypatch,
                                                  capsys):
    command, expected = shown.split("\n", 1)
    argv = command.removeprefix("$ attngen ").split()
    assert name in argv
    (tmp_path / name).write_text(spec, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _run(argv, capsys) == expected


# -- docs/spec.md ------
def test_full_specs_in_the_reference_check(tmp_path, monkeypatch, capsys):
    specs = [b for b in _blocks(SPEC_REF, "yaml") if b.startswith(("name:", "extends:"))]
    assert specs
    monkeypatch.chdir(tmp_path)
    for i, text in enumerate(specs):
        (tmp_path / f"example{i}.yaml").write_text(text, encoding="utf-8")
        assert main(["check", "-q", f"example{i}.yaml"]) == 0, capsys.readouterr().err


def _listed(start: str, end: str = "\n\n") -> set[str]:
    """The backquoted names of the reference's passage from `start` up to `end`."""
    i = SPEC_REF.index(start)
    return set(re.findall(r"`(\w+)`", SPEC_REF[i:SPEC_REF.index(end, i)]))


def test_reserved_names_are_the_ones_attngen_reserves():
    assert _listed("- the generated code's own names:", "\n- ") == names.GENERATED_NAMES
    builtins = _listed("- Python's builtins:", "The exact set")
    assert {n for n in builtins if n[0].islower()} == \
        {n for n in names.BUILTIN_NAMES if n[0].islower()}
    assert builtins <= names.BUILTIN_NAMES
    assert _listed("Reserved for params, lets, nodes") - {"seq"} == names.MODULE_ATTRS
    reserved = set(expr_source.FUNCTIONS) | set(expr_source.CONSTANTS)
    assert _listed("Reserved for input dims") == reserved


@pytest.mark.parametrize("reserved", sorted(_listed("Reserved for class names", ".\n")
                                            - {"name", "aliases"}))
def test_reserved_class_names_are_refused(reserved, tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: {reserved}\ninputs:\n  x: [B, C]\ngraph:\n"
                    "  y: {op: Sigmoid, in: x}\noutputs: y\n", encoding="utf-8")
    assert main(["check", str(spec)]) == 1
    assert "error[E104]" in capsys.readouterr().err


# -- every hand-written page ------
def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"),
                  flags=re.MULTILINE | re.DOTALL)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", HAND_WRITTEN)
def test_relative_links_resolve(page):
    path = REPO_ROOT / page
    text = re.sub(r"^```.*?^```$", "", path.read_text(encoding="utf-8"),
                  flags=re.MULTILINE | re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, page
    for link in links:
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert file.exists(), f"{page}: {link} -> {file} does not exist"
        if anchor:
            assert file.suffix == ".md" and anchor in _anchors(file), f"{page}: {link}"


def test_hand_written_docs_are_not_generated_pages():
    """`attngen docs` writes docs/README.md, docs/ops.md and docs/NAME.md per spec and
    overwrites them without asking: a hand-written page must not share a name with a spec,
    and every other page in docs/ must be one it writes."""
    generated = {docs.INDEX, docs.OPS_PAGE,
                 *(f"{p.stem}.md" for p in (REPO_ROOT / "specs").glob("*.yaml"))}
    for name in HAND_WRITTEN_DOCS:
        assert name not in generated
    for page in DOCS.glob("*.md"):
        assert page.name in generated or page.name in HAND_WRITTEN_DOCS, page.name


@pytest.mark.parametrize("page", HAND_WRITTEN)
def test_no_placeholders_left(page):
    assert "@@" not in (REPO_ROOT / page).read_text(encoding="utf-8")
