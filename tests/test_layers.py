"""The apps stand on floors and data flows one way: a lower floor never imports a higher one.

Every import statement counts, also one inside a function (a late import is still a
dependency), so this reads the source rather than `sys.modules`.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "accounts", "classes", "records", "blobs", "events", "console")

# What each ground-floor package may import of the project's apps.
ALLOWED = {
    "accounts": {"accounts", "config"},
    "config/streams.py": {"config"},
}


def imported_apps(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in APPS)
    return found


@pytest.mark.parametrize("where", sorted(ALLOWED))
def test_a_lower_floor_imports_no_app_above_it(where):
    target = ROOT / where
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - ALLOWED[where])
        for path in files
        if imported_apps(path) - ALLOWED[where]
    }
    assert wrong == {}


def test_the_check_sees_a_late_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from blobs.files import x\n    import records.models\n")
    assert imported_apps(module) == {"blobs", "records"}
