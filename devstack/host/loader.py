"""Load the function app exactly as the Python worker does.

The worker puts the app root on sys.path, imports the module named by the
PYTHON_SCRIPT_FILE_NAME app setting (default function_app.py), takes the one top-level
`FunctionApp` (a FunctionRegister) and asks it for its functions.

One step Azure does not have: `check_app_settings` builds the app's settings once at
start-up, so a bad setting stops the local host with a message naming it instead of
surfacing as a 500 on every request. (In Azure the app builds them lazily, on first use.)
"""

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import azure.functions as func
from azure.functions.decorators.function_app import FunctionRegister

DEFAULT_SCRIPT_FILE_NAME = "function_app.py"
SCRIPT_FILE_NAME_SETTING = "PYTHON_SCRIPT_FILE_NAME"
_VALID_SCRIPT_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py$")


# The app's settings builder, as `module:function`: it raises naming the bad setting.
DEFAULT_SETTINGS_CHECK = "function_app.settings:get_settings"


class TriggerSpec(Protocol):
    """A function's trigger binding: its type and its settings (binding JSON)."""

    def get_binding_name(self) -> str: ...

    def get_dict_repr(self) -> dict[Any, Any]: ...


class IndexedFunction(Protocol):
    """What the host's routing and trigger code read of a function: `func.Function` in this
    process, or `worker_client.WorkerFunction` from the worker's metadata."""

    def get_function_name(self) -> str | None: ...

    def get_trigger(self) -> TriggerSpec | None: ...

    def get_user_function(self) -> Callable[..., Any]: ...


class AppLoadError(RuntimeError):
    """The app could not be loaded; the message says what the worker would have said."""


class AppSettingsError(RuntimeError):
    """The app's settings are invalid; the message (one line) names the bad setting."""


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
    _add_to_path(root)
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


def _add_to_path(root: Path) -> None:
    root_text = str(root)
    if root_text not in sys.path:
        sys.path.insert(0, root_text)


def check_app_settings(root: Path, check: str = DEFAULT_SETTINGS_CHECK) -> bool:
    """Call the app's settings builder `check` ("module:function") once, from the current
    environment; raise AppSettingsError with its message (first line) when it fails.

    Returns False, doing nothing, when `module` is not part of the app under `root` (another
    app served by this host has no such module). The builder should cache what it builds
    (the app's `get_settings` does), so the app later uses these very settings.
    """
    module_name, sep, function_name = check.partition(":")
    if not sep or not module_name or not function_name:
        raise AppSettingsError(f"settings check {check!r} must be 'module:function'")
    root = root.resolve()
    _add_to_path(root)
    try:
        spec = importlib.util.find_spec(module_name)
    except ImportError:  # a parent package is missing
        spec = None
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is None or not origin.is_relative_to(root):
        return False
    try:
        build = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        raise AppLoadError(f"importing {check} failed: {exc!r}") from exc
    try:
        build()
    except Exception as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise AppSettingsError(lines[0]) from None
    return True
