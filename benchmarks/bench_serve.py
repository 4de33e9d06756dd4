"""`attngen serve`'s warm rebuild: from a spec file's write to the page's update event.

Starts `attngen serve` (a subprocess, as a person runs it) over a copy of some library
specs, listens to its event stream as the page does, and edits spec files on disk: each
edit is timed from just before the write to the arrival of the event naming the spec
(the page's update event), and to the end of the page's fetch of the new result (SVG,
source, parameter table). Edits alternate between a plain spec (SE), one with
sub-modules (CBAM) and a sub-spec whose dependent must follow (channel_attention ->
CBAM). Target: under 300 ms from write to event. Needs the serve extra.

    .venv/bin/python benchmarks/bench_serve.py [--edits N] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from serving import Events, Server  # noqa: E402  (tests/ holds the server driver)

SPECS = ("se", "cbam", "channel_attention", "spatial_attention", "eca", "sk", "mtgnn",
         "dilated_inception")
# (file edited, spec whose event is awaited, text replaced, two values to alternate)
EDITS = [
    ("se.yaml", "se.yaml", "reduction: {default: {}", ("16", "8")),
    ("cbam.yaml", "cbam.yaml", "ratio: {default: {}", ("16", "8")),
    ("channel_attention.yaml", "cbam.yaml", "ratio: {default: {}", ("16", "4")),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=30, help="edits timed (default: 30)")
    parser.add_argument("--quick", action="store_true", help="3 edits (a smoke test)")
    args = parser.parse_args(argv)
    n = 3 if args.quick else args.edits
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in SPECS:
            shutil.copy(REPO_ROOT / "specs" / f"{name}.yaml", folder / f"{name}.yaml")
        for file, _, pattern, (old, _new) in EDITS:  # every edited line must be there
            assert pattern.replace("{}", old) in (folder / file).read_text(), (file, pattern)
        server = Server(folder, ".")
        events = Events(server)
        to_event, to_page = [], []
        try:
            for i in range(n):
                file, awaited, pattern, (a, b) = EDITS[i % len(EDITS)]
                path = folder / file
                text = path.read_text()
                old, new = (a, b) if pattern.replace("{}", a) in text else (b, a)
                before = server.json(f"/api/spec?id={awaited}")["version"]
                seen = len(events.received)
                start = time.perf_counter()
                path.write_text(text.replace(pattern.replace("{}", old),
                                             pattern.replace("{}", new)))
                when, _ = events.wait_for(awaited, seen)
                view = server.json(f"/api/spec?id={awaited}")
                done = time.perf_counter()
                assert view["ok"] and view["version"] > before and view["svg"], view["errors"]
                to_event.append((when - start) * 1000)
                to_page.append((done - start) * 1000)
                time.sleep(0.2)  # edits a person makes are apart: no batching of two
        finally:
            events.close()
            server.stop()
    print(f"| {n} edits | median | p90 | max |")
    print("|---|---|---|---|")
    for label, times in (("write -> update event (ms)", to_event),
                         ("write -> new result fetched (ms)", to_page)):
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"| {label} | {statistics.median(times):.0f} | {p90:.0f} | {max(times):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
