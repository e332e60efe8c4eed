import uuid
from pathlib import Path

import pytest

from devstack.host.loader import AppLoadError, load_function_app

APP = """
import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ping", methods=["GET"])
async def ping(req: Request) -> Response:
    return Response("pong")
"""


def unique_module() -> str:
    return f"entry_{uuid.uuid4().hex}"


def test_the_module_named_by_the_setting_is_indexed(tmp_path: Path) -> None:
    name = unique_module()
    (tmp_path / f"{name}.py").write_text(APP, encoding="utf-8")

    _, functions = load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": f"{name}.py"})

    assert [f.get_function_name() for f in functions] == ["ping"]


def test_the_repository_entry_module_is_main_py() -> None:
    root = Path(__file__).resolve().parents[3]

    app, _ = load_function_app(root, {"PYTHON_SCRIPT_FILE_NAME": "main.py"})

    assert type(app).__name__ == "FunctionApp"


def test_a_missing_entry_module_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="PYTHON_SCRIPT_FILE_NAME"):
        load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": f"{unique_module()}.py"})


def test_an_invalid_script_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="invalid"):
        load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "../evil.py"})


def test_a_package_shadowing_the_entry_module_is_explained(tmp_path: Path) -> None:
    name = unique_module()
    (tmp_path / f"{name}.py").write_text(APP, encoding="utf-8")
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text('"""no app here"""\n', encoding="utf-8")

    with pytest.raises(AppLoadError, match="shadows"):
        load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": f"{name}.py"})


def test_two_apps_are_refused(tmp_path: Path) -> None:
    name = unique_module()
    (tmp_path / f"{name}.py").write_text(APP + "\nsecond = func.FunctionApp()\n", encoding="utf-8")

    with pytest.raises(AppLoadError, match="multiple"):
        load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": f"{name}.py"})


def test_an_import_error_is_reported_with_its_cause(tmp_path: Path) -> None:
    name = unique_module()
    (tmp_path / f"{name}.py").write_text("import not_a_module_anywhere\n", encoding="utf-8")

    with pytest.raises(AppLoadError, match="not_a_module_anywhere"):
        load_function_app(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": f"{name}.py"})
