"""Shared pytest configuration for the attngen test-suite.

tests/ is not a package; this puts it on sys.path so test modules can do
``import references.se`` and ``import equivalence``. Add shared fixtures and
hooks below.
"""
import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# Tests build with the build cache off (each test sees a full build), except the cache's
# own tests, which point ATTNGEN_CACHE_DIR at a temporary folder.
os.environ.setdefault("ATTNGEN_NO_CACHE", "1")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests (stable, and fair to other processes)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
