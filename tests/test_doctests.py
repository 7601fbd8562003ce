"""The examples in the docstrings (``>>>``) of every module of the project's packages run and hold."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit_core", "tasks", "flows", "experiments")


def _modules_with_examples() -> list[str]:
    """Dotted names of the modules whose source holds a ``>>>`` example, found without importing any."""
    paths = (path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")))
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in paths
        if ">>>" in path.read_text(encoding="utf-8")
    ]


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples_hold(module_name):
    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module_name} has '>>>' outside any docstring doctest finds"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module_name} failed"
