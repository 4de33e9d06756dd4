"""Shared pytest configuration for the attngen test-suite.

tests/ is not a package; this puts it on sys.path so test modules can do
``import references.se`` and ``import equivalence``. It also registers the hypothesis
profiles (see below) and, under CI, turns every skip into a failure.
"""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# Tests build with the build cache off (each test sees a full build), except the cache's
# own tests, which point ATTNGEN_CACHE_DIR at a temporary folder.
os.environ.setdefault("ATTNGEN_NO_CACHE", "1")

# Hypothesis profiles. `max_examples` is the unit each property test scales by its share
# (tests/test_fuzz.py): `default` replays a few hundred derandomized cases on every run;
# `slow` replays thousands and is what tests marked `slow` (`pytest -m slow`) use. The
# same cases on every run, so a failure is reproducible and CI is deterministic.
# HYPOTHESIS_PROFILE=slow runs the unmarked property tests at the slow size too;
# HYPOTHESIS_PROFILE=random at that size with new cases each run (a hunt for bugs: a
# failure prints its @reproduce_failure blob to replay it).
settings.register_profile("default", max_examples=100, derandomize=True, database=None,
                          deadline=None, print_blob=True, suppress_health_check=list(HealthCheck))
settings.register_profile("slow", settings.get_profile("default"), max_examples=1500)
settings.register_profile("random", settings.get_profile("slow"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Set by .ci/run: there a skipped test is a check that did not run, so it fails instead.
SKIPS_FAIL = os.environ.get("ATTNGEN_CI") == "1"


def _fail_a_skip(report) -> None:
    if SKIPS_FAIL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and ATTNGEN_CI=1 allows no skips: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_a_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_a_skip(outcome.get_result())


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests (stable, and fair to other processes)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- every E404 hint the suite provokes, pasted back (tests/test_e404_hints.py) ----------------
# Each SpecError made in this process with an E404 diagnostic is recorded with the text of
# the spec file it is located in and of the .yaml files beside it (a `use:` reads them),
# taken when the error is made: tests rewrite and delete their files. The replay test runs
# last (pytest_collection_modifyitems) and pastes each hint back into its spec.
E404_SEEN: dict[tuple, dict] = {}  # (file text, hint) -> the case, each once
E404_TEST = "test_e404_hints.py::test_every_e404_hint_the_suite_provokes_works_pasted_back"
_MAX_FOLDER_FILES = 30


def _record_e404(exc) -> None:
    from attngen.errors import UNSTATED_DIVISIBILITY

    for d in exc.diagnostics:
        if d.code != UNSTATED_DIVISIBILITY or not d.loc.line:
            continue
        path = Path(d.loc.file)
        try:
            text = path.read_text(encoding="utf-8")
            siblings = sorted(path.resolve().parent.glob("*.yaml"))[:_MAX_FOLDER_FILES]
            folder = {p.name: p.read_text(encoding="utf-8") for p in siblings if p.is_file()}
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        E404_SEEN.setdefault((text, d.format()), {
            "name": path.name, "text": text, "folder": folder, "diagnostic": d.format()})


def _install_e404_recorder() -> None:
    from attngen import errors

    init = errors.SpecError.__init__

    def recording_init(self, diagnostics) -> None:
        init(self, diagnostics)
        _record_e404(self)

    errors.SpecError.__init__ = recording_init


_install_e404_recorder()


def pytest_collection_modifyitems(session, config, items):
    """The E404 replay test last: it reads what the tests before it provoked."""
    last = [item for item in items if item.nodeid.endswith(E404_TEST)]
    items[:] = [item for item in items if item not in last] + last
