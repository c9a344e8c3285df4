"""The package layering: hillmix imports neither sibling; hillmix_sim not hillmix_opt."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "hillmix": {"hillmix_sim", "hillmix_opt", "hillmix_cli"},
    "hillmix_sim": {"hillmix_opt", "hillmix_cli"},
    "hillmix_opt": {"hillmix_cli"},
}


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        # `python -m hillmix` is the command line's entry point, not the library.
        if path.name == "__main__.py":
            continue
        bad = set(_imports(path)) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders
