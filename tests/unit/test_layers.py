"""The house's walls (docs/architecture.md, "Layers" and "Two front doors"): which package
may import which, read from every module's imports."""

import ast
from pathlib import Path

import pytest

import feature_gateway

PACKAGE_ROOT = Path(feature_gateway.__file__).parent
# Package → what no module in it may import (a package of ours, or a library).
NEVER = {
    "console": {"feature_gateway.api"},
    "api": {"feature_gateway.console"},
    "web": {"feature_gateway.api", "feature_gateway.console", "feature_gateway.shapes"},
    "shapes": {"feature_gateway.api", "feature_gateway.console", "feature_gateway.web", "flask"},
    "domain": {"flask", "sqlalchemy", "marshmallow"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _crossings(root: Path, package: str) -> list[str]:
    forbidden = NEVER[package]
    return [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted((root / package).rglob("*.py"))
        for name in sorted(_imports(path))
        if any(name == wall or name.startswith(wall + ".") for wall in forbidden)
    ]


@pytest.mark.parametrize("package", sorted(NEVER))
def test_no_module_of_a_package_imports_what_its_layer_may_not(package):
    assert (PACKAGE_ROOT / package).is_dir()
    assert _crossings(PACKAGE_ROOT, package) == []


def test_the_check_sees_an_import_across_a_wall(tmp_path):
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "page.py").write_text(
        "from feature_gateway.api.roles import require_role\n"
    )
    assert _crossings(tmp_path, "console") == [
        "console/page.py imports feature_gateway.api.roles",
        "console/page.py imports feature_gateway.api.roles.require_role",
    ]
