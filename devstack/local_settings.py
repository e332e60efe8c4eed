"""local.settings.json, read as Azure Functions Core Tools reads it.

`Values` become environment variables, but a variable that is already set wins (Core Tools
behaviour: the shell overrides the file). `Host` gives the local HTTP port and CORS. When
`local.settings.json` is absent, `local.settings.sample.json` (committed) is used instead.
"""

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

SETTINGS_FILE = "local.settings.json"
SAMPLE_FILE = "local.settings.sample.json"


class LocalSettingsError(ValueError):
    """local.settings.json exists but cannot be used; the message says why."""


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str] = field(default_factory=dict)
    http_port: int | None = None
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False
    source: Path | None = None

    def apply_to(self, environ: MutableMapping[str, str]) -> list[str]:
        """Copy `values` into `environ` without overriding what is set; return the names set."""
        applied = []
        for name, value in self.values.items():
            if name not in environ:
                environ[name] = value
                applied.append(name)
        return applied


def settings_path(root: Path) -> Path | None:
    """The file Core Tools would read: local.settings.json, else the committed sample."""
    for name in (SETTINGS_FILE, SAMPLE_FILE):
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def read_local_settings(root: Path) -> LocalSettings:
    path = settings_path(root)
    if path is None:
        return LocalSettings()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LocalSettingsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise LocalSettingsError(f"{path}: the top level must be an object")
    if document.get("IsEncrypted") is True:
        raise LocalSettingsError(f"{path}: encrypted settings are not supported; decrypt them")
    return LocalSettings(
        values=_values(path, document.get("Values") or {}),
        http_port=_port(path, (document.get("Host") or {}).get("LocalHttpPort")),
        cors_origins=parse_origins((document.get("Host") or {}).get("CORS")),
        cors_credentials=bool((document.get("Host") or {}).get("CORSCredentials", False)),
        source=path,
    )


def _values(path: Path, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise LocalSettingsError(f"{path}: Values must be an object of strings")
    values: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            values[str(name)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[str(name)] = str(value)
        elif value is not None:
            raise LocalSettingsError(f"{path}: Values.{name} must be a string")
    return values


def _port(path: Path, raw: object) -> int | None:
    if raw is None:
        return None
    try:
        port = int(str(raw))
    except ValueError:
        raise LocalSettingsError(f"{path}: Host.LocalHttpPort must be a number") from None
    if not 1 <= port <= 65535:
        raise LocalSettingsError(f"{path}: Host.LocalHttpPort {port} is not a TCP port")
    return port


def parse_origins(raw: object) -> tuple[str, ...]:
    """`Host.CORS` (or `--cors`): comma-separated origins, `*` for any."""
    if not isinstance(raw, str):
        return ()
    return tuple(origin.strip() for origin in raw.split(",") if origin.strip())


def load_into_environ(root: Path, environ: MutableMapping[str, str] | None = None) -> LocalSettings:
    """Read the settings under `root` and apply `Values` to `environ` (default os.environ)."""
    settings = read_local_settings(root)
    settings.apply_to(os.environ if environ is None else environ)
    return settings
