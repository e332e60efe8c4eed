"""The domain and services import neither Azure nor FastAPI (STYLE habit 3), nor
OpenTelemetry: they trace through the `Tracer` port (docs/tracing.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "function_app"
FORBIDDEN = ("azure", "fastapi", "starlette", "azurefunctions", "opentelemetry")
PURE_FILES = sorted(
    [*(ROOT / "domain").rglob("*.py"), *(ROOT / "services").rglob("*.py"), ROOT / "ports.py"]
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_azure_or_fastapi(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
    assert bad == [], f"{path} imports {bad}"


def test_the_check_finds_the_files() -> None:
    assert any(p.name == "jobs.py" for p in PURE_FILES)
    assert any(p.name == "traced_log.py" for p in PURE_FILES)
