"""What `azd deploy` / zip deploy ships: .funcignore leaves only the app; azure.yaml points azd
at the Bicep stack and the function app service; docs/deploy.md builds the same zip."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pathspec
import pytest

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


def _deploy_code_section() -> str:
    text = (stacks.ROOT / "docs" / "deploy.md").read_text("utf-8")
    start = text.index("## Deploy the code")
    return text[start : text.index("\n## ", start + 1)]


def _archive_paths(section: str) -> list[str]:
    match = re.search(r"git archive --format=zip -o app\.zip HEAD ([^\n]+)", section)
    assert match, "docs/deploy.md: the zip is built with git archive"
    return match.group(1).split()


def test_the_documented_zip_push_sends_the_zip_the_docs_build_and_builds_remotely() -> None:
    """The CLI deployment in docs/deploy.md runs as written: the zip it pushes is the one its
    `git archive` line makes, and the remote build installs requirements.txt (the zip holds
    no packages)."""
    section = _deploy_code_section()
    built = re.search(r"git archive --format=zip -o (\S+) HEAD", section)
    pushed = re.search(r"source config-zip\b(.*?)(?:\n\n|```)", section, re.DOTALL)
    assert built, "docs/deploy.md: the zip is built with git archive"
    assert pushed, "docs/deploy.md: the zip is pushed with az functionapp deployment source"
    arguments = pushed.group(1).replace("\\\n", " ").split()
    assert arguments[arguments.index("--src") + 1] == built.group(1)
    assert arguments[arguments.index("--build-remote") + 1] == "true"


def test_the_documented_zip_holds_exactly_what_funcignore_ships() -> None:
    paths = _archive_paths(_deploy_code_section())
    assert set(paths) == SHIPPED_TOP_LEVEL
    git = shutil.which("git")
    if git is None:
        pytest.skip("git not on PATH: the archive's tracked file set not checked")
    listed = subprocess.run(
        [git, "-C", str(stacks.ROOT), "ls-files", "-z", "--", *paths],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    archived = {p for p in listed.split("\0") if p}
    assert {"main.py", "host.json", "requirements.txt"} <= archived
    assert any(p.startswith("function_app/") for p in archived)
    # Nothing git archive would add is something .funcignore keeps out (e.g. bytecode).
    assert archived <= _shipped_files(), sorted(archived - _shipped_files())


def test_main_bicep_header_gives_a_plain_az_command_that_works() -> None:
    lines = (stacks.BICEP_DIR / "main.bicep").read_text("utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("//"):
            break
        header.append(line.removeprefix("//").strip())
    start = next(i for i, line in enumerate(header) if "az deployment group create" in line)
    command = " ".join(header[start : start + 2]).replace("\\", " ")
    # azd's parameter file holds ${...} placeholders that plain az would pass on verbatim.
    assert "${" in (stacks.BICEP_DIR / "main.parameters.json").read_text("utf-8")
    assert "main.parameters.json" not in command
    assert "-f infra/bicep/main.bicep" in command
    params = stacks.bicep_document("main.bicep")["parameters"]
    required = {name for name, spec in params.items() if spec.get("default") is None}
    assert required == {"environmentName"}
    # Every parameter without a default, and the audience the default authMode (jwt) needs.
    for name in required | {"jwtAudience"}:
        assert f" {name}=" in command, name
