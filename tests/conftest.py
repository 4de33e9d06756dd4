"""Shared pytest configuration for the attngen test-suite.

tests/ is not a package; this puts it on sys.path so test modules can do
``import references.se`` and ``import equivalence``. Add shared fixtures and
hooks below.
"""
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
