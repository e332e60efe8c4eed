"""Load the function app exactly as the Python worker does.

The worker puts the app root on sys.path, imports the module named by the
PYTHON_SCRIPT_FILE_NAME app setting (default function_app.py), takes the one top-level
`FunctionApp` (a FunctionRegister) and asks it for its functions.
"""

import importlib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import azure.functions as func
from azure.functions.decorators.function_app import FunctionRegister

DEFAULT_SCRIPT_FILE_NAME = "function_app.py"
SCRIPT_FILE_NAME_SETTING = "PYTHON_SCRIPT_FILE_NAME"
_VALID_SCRIPT_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py$")


class AppLoadError(RuntimeError):
    """The app could not be loaded; the message says what the worker would have said."""


def script_file_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = env.get(SCRIPT_FILE_NAME_SETTING) or DEFAULT_SCRIPT_FILE_NAME
    if not _VALID_SCRIPT_NAME.match(name):
        raise AppLoadError(
            f"{SCRIPT_FILE_NAME_SETTING}={name!r} is invalid: it must be a .py file name "
            "in the app root matching ^[a-zA-Z0-9_][a-zA-Z0-9_\\-]*\\.py$"
        )
    return name


def import_entry_module(root: Path, file_name: str) -> ModuleType:
    script = root / file_name
    if not script.is_file():
        raise AppLoadError(
            f"{script} does not exist: set {SCRIPT_FILE_NAME_SETTING} to the entry module "
            f"(the file holding the FunctionApp), e.g. in local.settings.json"
        )
    root_text = str(root)
    if root_text not in sys.path:
        sys.path.insert(0, root_text)
    module_name = Path(file_name).stem
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise AppLoadError(f"importing {file_name} failed: {exc!r}") from exc


def find_function_app(module: ModuleType, root: Path, file_name: str) -> func.FunctionApp:
    apps = [v for v in vars(module).values() if isinstance(v, FunctionRegister)]
    if len(apps) > 1:
        raise AppLoadError(f"multiple FunctionApp instances are defined in {file_name}")
    if not apps:
        loaded_from = Path(getattr(module, "__file__", "") or "").resolve()
        hint = ""
        if loaded_from != (root / file_name).resolve():
            hint = (
                f" (the import of {Path(file_name).stem!r} resolved to {loaded_from}, which "
                f"shadows {file_name}: rename one or set {SCRIPT_FILE_NAME_SETTING})"
            )
        raise AppLoadError(f"could not find a top-level FunctionApp in {file_name}{hint}")
    app = apps[0]
    if not isinstance(app, func.FunctionApp):
        raise AppLoadError(f"{file_name}: the top-level app is not an azure.functions.FunctionApp")
    return app


def load_function_app(
    root: Path, environ: Mapping[str, str] | None = None
) -> tuple[func.FunctionApp, list[func.Function]]:
    """Import the entry module under `root` and return its app and indexed functions."""
    root = root.resolve()
    file_name = script_file_name(environ)
    module = import_entry_module(root, file_name)
    app = find_function_app(module, root, file_name)
    try:
        functions = app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"indexing {file_name} failed: {exc}") from exc
    return app, functions
