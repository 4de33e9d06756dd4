"""Every E404 hint the test suite provokes is a `requires` line that works where it is
located (issue 13, "Messages"): conftest.py records each E404 made in this process with
the text of its spec and of the specs beside it; this test runs last, pastes each hint back
into a copy of that spec, and checks the spec again. The hint must then be accepted (no
error names it: no unknown name, no syntax error, no failing requirement) and not be asked
for again; hints the next round asks for are pasted too, and a spec whose only errors were
E404s then builds. Run alone, it provokes the documented example first."""

import re
from pathlib import Path

from conftest import E404_SEEN
from fuzzing import run_cli
from requiring import PRECEDENCE, documented_e404

HINT = re.compile(r"^  note: .*requires: \[(.*)\]$", re.M)
HEAD = re.compile(r"^(\S+?):(\d+):(\d+): error\[(E\d{3})\]: (.*)$", re.M)
ROUNDS = 4


def paste(text: str, facts: list[str]) -> str:
    """`text` with `facts` added to its top-level `requires` (made if missing)."""
    block = re.search(r"^requires:[ \t]*\n([ \t]+)- ", text, re.M)
    if block:
        lines = "".join(f"{block[1]}- {fact}\n" for fact in facts)
        return text[:block.start(1)] + lines + text[block.start(1):]
    flow = re.search(r"^requires:[ \t]*\[", text, re.M)
    if flow:
        items = "".join(f'"{fact}", ' for fact in facts)
        rest = text[flow.end():]
        return text[:flow.end()] + (items[:-2] if rest.lstrip().startswith("]") else items) + rest
    return text.rstrip("\n") + "\nrequires:\n" + "".join(f"  - {fact}\n" for fact in facts)


def facts_of(text: str) -> list[str]:
    """The facts of every hint in `text`: a hint's list split at its top-level commas (a
    node's bounds come as one list, `[H >= 3, W >= 3]`)."""
    facts = []
    for listed in HINT.findall(text):
        depth, start = 0, 0
        for i, char in enumerate(listed + ","):
            depth += char in "([{"
            depth -= char in ")]}"
            if char == "," and depth == 0:
                facts.append(listed[start:i].strip())
                start = i + 1
    return facts


def hints_at(err: str, name: str) -> list[str]:
    """The facts of the E404 hints located in the file `name`."""
    facts = []
    for block in re.split(r"\n(?=\S)", err):
        head = HEAD.match(block)
        if head and head[4] == "E404" and Path(head[1]).name == name:
            facts += facts_of(block)
    return facts


def replay(case: dict, folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, text in case["folder"].items():
        (folder / name).write_text(text, encoding="utf-8")
    spec = folder / case["name"]
    text = case["text"]
    facts = facts_of(case["diagnostic"])
    assert facts, f"an E404 without a `requires:` hint:\n{case['diagnostic']}"
    asked = {HEAD.match(case["diagnostic"])[5]}  # the E404 messages answered so far
    pasted: list[str] = []
    for _ in range(ROUNDS):
        text = paste(text, facts)
        pasted += facts
        spec.write_text(text, encoding="utf-8")
        res = run_cli(["check", "-q", str(spec)])
        where = (f"{case['diagnostic']}\n-- pasted {pasted} into {spec}:\n{text}\n"
                 f"-- check:\n{res.err}")
        for head in HEAD.finditer(res.err):
            # the hint refused (unknown name, syntax); E405, the spec's defaults break it,
            # is the spec's own error (its defaults fail the op too), not the hint's
            refused = head[4] != "E405" and any(fact in head[5] for fact in pasted)
            assert not refused, where
        again = hints_at(res.err, spec.name)
        assert not set(again) & set(pasted), where  # asked for again: it did not help
        e404s = {h[5] for h in HEAD.finditer(res.err) if h[4] == "E404"}
        assert not e404s & asked, where  # the same error again: the hint did not answer it
        asked |= e404s
        others = [h for h in HEAD.finditer(res.err) if h[4] != "E404"]
        if res.code == 0:
            built = run_cli(["build", "--no-svg", str(spec), "-o", str(folder / "out")])
            assert built.code == 0, f"{where}\n-- build:\n{built.err}"
            return
        if others or not again:  # the spec has errors of its own: the hint was accepted
            return
        facts = again
    raise AssertionError(f"still asking for requirements after {ROUNDS} rounds:\n{where}")


def test_every_e404_hint_the_suite_provokes_works_pasted_back(tmp_path):
    if not E404_SEEN:  # run alone: provoke the documented example
        (tmp_path / "e404.yaml").write_text(documented_e404())
        assert run_cli(["check", str(tmp_path / "e404.yaml")]).code == 1
    cases = list(E404_SEEN.values())
    assert cases, "no E404 was recorded"
    for i, case in enumerate(cases):
        replay(case, tmp_path / f"case{i}")


def test_the_replay_refuses_a_hint_that_does_not_work(tmp_path):
    """The replay can fail: a hint without parentheses (`channel % 2*G`, which Python
    reads as `(channel % 2)*G`) and a hint naming what is not in scope are refused."""
    res = run_cli(["check", str(_write(tmp_path, PRECEDENCE))])
    good = next(c for c in E404_SEEN.values() if c["text"] == PRECEDENCE)
    assert "requires: [channel % (2*G) == 0]" in good["diagnostic"], res.err
    replay(good, tmp_path / "good")
    for bad in ("channel % 2*G == 0", "C % G == 0"):
        case = {**good, "diagnostic": good["diagnostic"].replace("channel % (2*G) == 0", bad)}
        try:
            replay(case, tmp_path / bad.replace(" ", "").replace("%", "m").replace("*", "x"))
        except AssertionError:
            continue
        raise AssertionError(f"the replay accepted the hint {bad!r}")


def _write(folder: Path, text: str) -> Path:
    path = folder / "precedence.yaml"
    path.write_text(text)
    return path
