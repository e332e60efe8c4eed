"""What `azd deploy` / zip deploy ships: .funcignore leaves only the app; azure.yaml points azd
at the Bicep stack and the function app service."""

import os
from pathlib import Path

import pathspec

from tests.infra import stacks

SHIPPED_TOP_LEVEL = {"main.py", "host.json", "requirements.txt", "function_app"}


def _shipped_files() -> set[str]:
    lines = (stacks.ROOT / ".funcignore").read_text("utf-8").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    shipped: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(stacks.ROOT):
        rel_dir = Path(dirpath).relative_to(stacks.ROOT)
        dirnames[:] = [
            d
            for d in dirnames
            if d != ".git" and not spec.match_file(f"{(rel_dir / d).as_posix()}/")
        ]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if not spec.match_file(rel):
                shipped.add(rel)
    return shipped


def test_funcignore_ships_only_the_app() -> None:
    shipped = _shipped_files()
    assert {"main.py", "host.json", "requirements.txt", "function_app/settings.py"} <= shipped
    assert {p.split("/")[0] for p in shipped} <= SHIPPED_TOP_LEVEL
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")]


def test_azure_yaml_deploys_the_function_app_from_the_bicep_stack() -> None:
    text = (stacks.ROOT / "azure.yaml").read_text("utf-8")
    assert "path: infra/bicep" in text
    assert "host: function" in text
    assert "language: python" in text
    # azd finds the deployment target by the azd-service-name tag; the service is "api".
    api = stacks.bicep_document("app/api.bicep")["resources"]["functionApp"]["config"]
    assert "azd-service-name" in str(api["tags"])
    assert "api" in str(api["tags"])
    tf_app = stacks.terraform_resource("azapi_resource", "api")
    assert '"azd-service-name" = "api"' in tf_app["tags"]
