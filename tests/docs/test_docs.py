"""Facts about the documentation (README.md and docs/*.md), checked against the repository and
the code, never against its wording.

- every relative link resolves to a file in the repository (and an anchor to a heading);
  nothing in the docs, nor anywhere else in the repository outside tests/, points outside it
  (tests may load seed files from outside at test time); every doc links to docs/api.md;
- the app settings, `make` targets, repository paths and API paths the docs name exist;
- the README's first-job commands set every variable and make every file they use;
- docs/api.md names every route the app registers (and no other), every SSE event and payload
  field the code sends, every field of the JSON answers (the 503 included), every job status
  and stage, every error code with the status the code answers it with, and every job error
  code with its `retryable`.
"""

import ast
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, get_args
from urllib.parse import unquote

import azure.functions as func
import pytest

import function_app
import main
from function_app.domain.errors import DomainError
from function_app.domain.jobs import Job, JobError, JobEvent, JobStatus, Stage
from function_app.entrypoints.errors import dependency_unavailable_response, status_for
from function_app.entrypoints.http_catalog import catalog_out
from function_app.entrypoints.http_stream import stats_payload
from function_app.entrypoints.schemas import accepted_out, job_out, presigned_out, queue_counts_out
from function_app.entrypoints.sse import frame
from function_app.entrypoints.stream_vocabularies import steps_events
from function_app.ports import QueueCounts
from function_app.services.health import NOT_ANSWERING
from function_app.services.jobs import JobAccepted
from function_app.services.streaming import (
    Connected,
    ConnectionStats,
    Heartbeat,
    HubStats,
    QueueSnapshot,
    StreamItem,
    TimedOut,
    Update,
)
from function_app.services.uploads import PresignedUpload
from function_app.settings import Settings
from tests.infra import stacks

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
API_DOC = ROOT / "docs" / "api.md"
DOCS = (README, *sorted((ROOT / "docs").glob("*.md")))
DOC_IDS = [doc.relative_to(ROOT).as_posix() for doc in DOCS]
PRODUCT_CODE = (ROOT / "function_app", ROOT / "devstack", ROOT / "bench", ROOT / "jobstream_client")

# --- reading markdown -------------------------------------------------------------------------

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Markdown:
    prose: list[str]  # lines outside fenced code blocks
    blocks: list[tuple[str, str]]  # (info string, text) of each fenced code block

    @property
    def inline_code(self) -> list[str]:
        return [span.strip("`") for line in self.prose for span in INLINE_CODE.findall(line)]

    @property
    def code(self) -> list[str]:
        """Everything written as code: inline spans and fenced blocks."""
        return self.inline_code + [text for _, text in self.blocks]


@cache
def markdown(path: Path) -> Markdown:
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    info, body = "", list[str]()
    for line in path.read_text("utf-8").splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence, info, body = opened.group(1), line.strip()[3:].strip(), []
        elif fence is not None and line.strip().startswith(fence):
            blocks.append((info, "\n".join(body)))
            fence = None
        elif fence is not None:
            body.append(line)
        else:
            prose.append(line)
    return Markdown(prose, blocks)


def links(path: Path) -> list[str]:
    found = []
    for line in markdown(path).prose:
        reference = REFERENCE.match(line)
        if reference:
            found.append(reference.group(1))
            continue
        found.extend(LINK.findall(INLINE_CODE.sub("", line)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in markdown(path).prose:
        heading = HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def section(path: Path, heading: str) -> str:
    """The text under `heading` (a whole heading line) up to the next heading of its level."""
    lines = path.read_text("utf-8").splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    start = lines.index(heading)
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if (m := HEADING.match(lines[i])) and len(m.group(1)) <= level
        ),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def backticked(text: str) -> set[str]:
    return {span.strip("`") for span in INLINE_CODE.findall(text)}


def code_words(path: Path) -> set[str]:
    """Every identifier written as code in a doc, inline or in a block (`{connectionId,
    jobId}` names two)."""
    return {word for code in markdown(path).code for word in re.findall(r"[A-Za-z_]\w*", code)}


# --- links --------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_relative_link_resolves_to_a_file_and_heading_in_the_repository(doc: Path) -> None:
    problems = []
    for target in links(doc):
        if SCHEME.match(target):
            if not target.startswith(("https://", "http://", "mailto:")):
                problems.append(f"{target}: not a web link")
            continue
        raw_path, _, anchor = target.partition("#")
        if raw_path.startswith("/"):
            problems.append(f"{target}: absolute path (write it relative to {doc.name})")
            continue
        resolved = (doc.parent / unquote(raw_path)).resolve() if raw_path else doc
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not problems, problems


# A relative path written in the text, linked or not (`../shared/...`, `../../x`).
RELATIVE_PATH = re.compile(r"(?<![\w./])(?:\.\./)+[\w.-][\w./-]*")
# An absolute path of some machine (`/work/...`, `/home/...`), not of the repository.
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|home|root|Users|tmp)/[\w./-]*")
# Where the product's outside contract came from; the repository has its own (docs/api.md).
UPSTREAM = re.compile(r"shared/spec|\bAPI\.md\b")


def _names_something(path: Path) -> bool:
    """The path exists, or starts the name of something in an existing folder (`dir/001_`
    written as `dir/001_*.txt`). `../shared/x` from docs/ means the repository's own shared/:
    a path meant from the root that leaves it names nothing."""
    path = path.resolve()
    if path.exists():
        return True
    return path.parent.is_dir() and any(p.name.startswith(path.name) for p in path.parent.iterdir())


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_nothing_in_the_docs_points_outside_the_repository(doc: Path) -> None:
    text = doc.read_text("utf-8")
    outside = [
        path
        for path in RELATIVE_PATH.findall(text)
        if not (doc.parent / path).resolve().is_relative_to(ROOT)
        or not _names_something(doc.parent / path)
    ]
    assert not outside, f"{doc.name} points outside the repository: {outside}"
    upstream = UPSTREAM.findall(text)
    assert not upstream, f"{doc.name} names the upstream contract, not docs/api.md: {upstream}"
    machine = MACHINE_PATH.findall(text)
    assert not machine, f"{doc.name}: paths of a machine, not of the repository: {machine}"


SKIPPED_DIRS = {"node_modules", "__pycache__", "tests"}


def _repository_files() -> Iterator[tuple[Path, str]]:
    """Every text file of the repository outside tests/ and the docs (tested above), with its
    text. Tests may load seed files from outside the repository at test time; nothing else
    may point there."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for file in sorted(files):
            path = Path(folder) / file
            if path in DOCS or file == ".git":  # a worktree's pointer to its repository
                continue
            if path.relative_to(ROOT).parts[:2] == ("bench", "results"):
                continue  # git-ignored output of local benchmark runs (profiles name paths)
            try:
                yield path, path.read_text("utf-8")
            except UnicodeDecodeError:
                continue


def test_nothing_in_the_repository_points_outside_it() -> None:
    problems, seen = [], set()
    for path, text in _repository_files():
        name = path.relative_to(ROOT).as_posix()
        seen.add(name)
        problems += [f"{name}: {hit}" for hit in UPSTREAM.findall(text)]
        problems += [
            f"{name}: {relative}"
            for relative in RELATIVE_PATH.findall(text)
            if not (path.parent / relative).resolve().is_relative_to(ROOT)
        ]
    assert {"main.py", "function_app/entrypoints/sse.py", "infra/terraform/locals.tf"} <= seen
    assert not problems, problems


def test_nothing_in_the_repository_names_a_path_of_a_machine() -> None:
    problems = [
        f"{path.relative_to(ROOT).as_posix()}: {hit}"
        for path, text in _repository_files()
        for hit in MACHINE_PATH.findall(text)
    ]
    assert not problems, problems


# A doc that code, a comment or a config names: `docs/x.md`, perhaps with the heading it
# means after it (`docs/x.md, "Heading"` or `docs/x.md ("Heading")`, maybe over a line break).
DOC_REFERENCE = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)\b")
HEADING_AFTER = re.compile(r'^,?\s*\(?"([^"]+)"')
CONTINUED_LINE = re.compile(r"\s*\n\s*(?:#+|//+|\*)?\s*")


def test_every_doc_and_heading_the_repository_names_exists() -> None:
    problems, named = [], 0
    for path, text in _repository_files():
        for reference in DOC_REFERENCE.finditer(text):
            named += 1
            where = f"{path.relative_to(ROOT).as_posix()}: docs/{reference.group(1)}"
            doc = ROOT / "docs" / reference.group(1)
            if not doc.is_file():
                problems.append(f"{where}: no such doc")
                continue
            after = CONTINUED_LINE.sub(" ", text[reference.end() : reference.end() + 200])
            heading = HEADING_AFTER.match(after)
            if heading and slug(heading.group(1)) not in anchors(doc):
                problems.append(f"{where}: no heading {heading.group(1)!r}")
    assert named > 20, "the references were not found"
    assert not problems, problems


@pytest.mark.parametrize("doc", [d for d in DOCS if d != API_DOC], ids=lambda d: d.name)
def test_every_doc_links_to_the_api_doc(doc: Path) -> None:
    targets = {
        (doc.parent / unquote(t.partition("#")[0])).resolve()
        for t in links(doc)
        if not SCHEME.match(t) and t.partition("#")[0]
    }
    assert API_DOC in targets, f"{doc.name} does not link to docs/api.md"


# --- settings, make targets, the README's commands ------------------------------------------------

SETTING_LIKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
CONNECTION_SETTING = re.compile(
    r"\b(?:ServiceBusConnection|AzureWebJobs[A-Za-z]*)(?:__[A-Za-z]+)*\b"
)
SHELL_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)

# UPPER_SNAKE names the docs use that are not app settings, each checked where it comes from.
LIBRARY_NAMES = {
    "PEEK_LOCK": ("azure.servicebus", "ServiceBusReceiveMode.PEEK_LOCK"),
    "RECEIVE_AND_DELETE": ("azure.servicebus", "ServiceBusReceiveMode.RECEIVE_AND_DELETE"),
    "NEXT_AVAILABLE_SESSION": ("azure.servicebus", "NEXT_AVAILABLE_SESSION"),
    "TCP_NODELAY": ("socket", "TCP_NODELAY"),
    "IPPROTO_TCP": ("socket", "IPPROTO_TCP"),
}
# Names of outside tools that nothing here can look up.
OUTSIDE_NAMES = {
    "CKV_AZURE_39",  # a checkov check id
    "ERR_FAILED",  # Chromium's net::ERR_FAILED
    "WRONG_VERSION_NUMBER",  # OpenSSL's error for TLS spoken to a plain port
    "REQUESTS_CA_BUNDLE",  # requests' CA bundle variable
    "SSL_CERT_FILE",  # OpenSSL's CA file variable
    "JOBSTREAM_LOCAL_WORKER",  # the local host's switch (devstack/host/server.py), not the app's
    # the environment variables Microsoft's azure-servicebus samples read
    "SERVICEBUS_CONNECTION_STR",
    "SERVICEBUS_QUEUE_NAME",
    "SERVICEBUS_SESSION_QUEUE_NAME",
    "SERVICEBUS_TOPIC_NAME",
    "SERVICEBUS_SUBSCRIPTION_NAME",
    "SERVICEBUS_SESSION_ID",
}


def _sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "local.settings.sample.json").read_text("utf-8"))
    return document


@cache
def app_settings() -> frozenset[str]:
    """Every name the app reads or the places it runs set: Settings, the sample, both stacks."""
    names = set(Settings.model_fields) | set(_sample()["Values"])
    for stack in stacks.both():
        names |= set(stack.app_settings)
    return frozenset(names)


def _module_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


@cache
def not_settings() -> frozenset[str]:
    """UPPER_SNAKE names that are something else, each found where it is defined."""
    names = set(OUTSIDE_NAMES) | set(LIBRARY_NAMES)
    for stack in stacks.both():
        names |= set(stack.outputs)  # azd / Terraform outputs (API_BASE_URL, ...)
    parameters = (stacks.BICEP_DIR / "main.parameters.json").read_text("utf-8")
    names |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", parameters))  # azd environment
    names |= set(SETTING_LIKE.findall(json.dumps(_sample()["Values"])))  # placeholder values
    for root in PRODUCT_CODE:
        for path in root.rglob("*.py"):
            names |= _module_constants(path)
    names |= _module_constants(ROOT / "main.py")
    for doc in DOCS:  # shell variables the docs' own commands set
        for _, block in markdown(doc).blocks:
            names |= set(SHELL_ASSIGNMENT.findall(block))
    return frozenset(names)


def test_the_non_setting_names_the_docs_may_use_are_real() -> None:
    for name, (module, attribute) in LIBRARY_NAMES.items():
        value: Any = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        assert value is not None, name


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_app_setting_the_docs_name_exists(doc: Path) -> None:
    text = doc.read_text("utf-8")
    named = set(SETTING_LIKE.findall(text)) | set(CONNECTION_SETTING.findall(text))
    unknown = sorted(named - app_settings() - not_settings())
    assert not unknown, (
        f"{doc.name} names settings that are neither Settings fields, nor in "
        f"local.settings.sample.json or the stacks' app settings: {unknown}"
    )


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text("utf-8")
    return set(re.findall(r"^([A-Za-z][A-Za-z0-9_-]*)\s*:(?!=)", text, re.MULTILINE))


# A path of ours written as code: `services/jobs.py`, `app/rbac.bicep`, `tests/fakes.py`.
FILE_PATH = re.compile(r"(?<![\w./-])[\w.-]+(?:/[\w.-]+)+\.(?:py|md|bicep|tf|js|json|toml|html)\b")
# Where a path written without its full prefix is looked up.
PATH_ROOTS = ("", "function_app", "function_app/adapters", "infra/bicep", "docs")
# Paths of files that are not ours.
NOT_OURS = (
    "_pyamqp/",  # the Service Bus SDK's own AMQP modules
    ".devstack/",  # what the local stack writes at run time
)


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_repository_path_the_docs_name_exists(doc: Path) -> None:
    missing = sorted(
        path
        for code in markdown(doc).inline_code
        for path in FILE_PATH.findall(code)
        if not path.startswith(NOT_OURS)
        and not any((ROOT / base / path).exists() for base in PATH_ROOTS)
    )
    assert not missing, f"{doc.name} names paths the repository does not have: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_make_target_the_docs_name_exists(doc: Path) -> None:
    named = {
        target
        for code in markdown(doc).code
        for target in re.findall(r"(?<![\w-])make\s+([a-z][\w-]*)", code)
    }
    assert named - makefile_targets() == set(), sorted(named - makefile_targets())


def test_the_readme_make_commands_resolve() -> None:
    """`make -n` (print, do not run) each `make` command of the README's code blocks: the
    target exists and every prerequisite it needs can be made."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not on PATH")
    commands = {
        target
        for _, block in markdown(README).blocks
        for target in re.findall(r"^\s*make\s+([a-z][\w-]*)", block, re.MULTILINE)
    }
    assert {"run", "test"} <= commands, "the README's two commands"
    for target in sorted(commands):
        done = subprocess.run(
            [make, "-n", "-C", str(ROOT), target], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"make -n {target}: {done.stderr}"


def test_the_readme_commands_set_every_variable_and_file_they_use() -> None:
    """Each README shell block runs as pasted: it sets each `$VAR` before using it, and makes
    each `@file` it sends."""
    blocks = [text for info, text in markdown(README).blocks if info in ("bash", "sh")]
    assert blocks
    for block in blocks:
        assigned: set[str] = set()
        created: set[str] = set()
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            shell = re.sub(r"'[^']*'", "''", line)  # single quotes: jq's $vars, not the shell's
            # `${NAME:-default}` is set by the line itself when the shell has no NAME.
            defaulted = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-", shell))
            used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", shell)) - defaulted
            assert used <= assigned, f"used before it is set: {sorted(used - assigned)}: {line}"
            sent = set(re.findall(r"@([\w./-]+)", shell))
            assert sent <= created, f"sends a file the block does not make: {line}"
            assigned |= set(SHELL_ASSIGNMENT.findall(shell))
            created |= set(re.findall(r">\s*([\w./-]+)", shell))


# --- the infra stacks -----------------------------------------------------------------------------

DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# `name`, `name=value`, `-p name=value` (Bicep, camelCase) or `name = value` (Terraform).
INFRA_NAME = re.compile(r"(?:-p\s+)?([a-z]+[A-Z]\w*|[a-z]+(?:_[a-z0-9]+)+)(?:\s*=\s*(\S+))?")
# snake_case names deploy.md writes that are not Terraform variables, with what they are.
NOT_VARIABLES = {
    "azurerm_function_app_flex_consumption": "the provider's resource our azapi_resource replaces",
}


def _bicep_parameters() -> dict[str, dict[str, Any]]:
    return dict(stacks.bicep_document("main.bicep")["parameters"])


def test_every_infra_parameter_the_deploy_doc_names_exists_with_its_type() -> None:
    """camelCase names are parameters of infra/bicep/main.bicep, snake_case ones Terraform
    variables (or resource types); `name=false` needs a bool."""
    unknown = []
    names = 0
    # Other snake_case names: Terraform resource types, stream events.
    others = set(NOT_VARIABLES) | stacks.terraform_resource_types()
    others |= {event for event, _ in sse_events()}
    for span in markdown(DEPLOY_DOC).inline_code:
        match = INFRA_NAME.fullmatch(span)
        if match is None:
            continue
        name, value = match.groups()
        names += 1
        if "_" not in name:
            spec = _bicep_parameters().get(name)
        elif name in others:
            continue
        else:
            try:
                spec = stacks.terraform_variable_spec(name)
            except KeyError:
                spec = None
        if spec is None:
            unknown.append(name)
        elif value in ("true", "false"):
            assert spec["type"] == "bool", f"{span}: {name} is not a bool"
    assert names, "deploy.md names no infra parameter"
    assert not unknown, f"deploy.md names infra parameters neither stack has: {sorted(unknown)}"


def test_the_deploy_doc_names_every_action_of_the_custom_roles() -> None:
    written = backticked(DEPLOY_DOC.read_text("utf-8"))
    for stack in stacks.both():
        actions = {a for role in stack.role_definitions.values() for a in role.actions}
        assert actions, f"{stack.name} defines no custom role"
        assert actions <= written, f"{stack.name}: not in docs/deploy.md: {actions - written}"


# --- routes ---------------------------------------------------------------------------------------

# Routes under /api/v1, and seed 002's /api/events and /api/jobs/events (not "/api/v1" alone).
API_PATH = r"/api(?!/v1(?![/\w]))(?:/[A-Za-z0-9_{}<>.-]+)+"
ROUTE = re.compile(rf"\b(GET|POST|PUT|PATCH|DELETE) ({API_PATH})")
PATH = re.compile(rf"(?<![\w/]){API_PATH}")


def normalized(path: str) -> str:
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path.rstrip("."))


@cache
def app_routes() -> frozenset[tuple[str, str]]:
    host = json.loads((ROOT / "host.json").read_text("utf-8"))
    prefix = host["extensions"]["http"]["routePrefix"]
    routes = set()
    # The blueprints main registers, on an app of our own: an app indexes its functions once
    # (a second get_functions() raises), and other tests index `main.app`.
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in main.BLUEPRINTS:
        app.register_functions(blueprint)
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        route = f"/{prefix}/{trigger.get_dict_repr()['route']}"
        for method in trigger.get_dict_repr()["methods"]:
            routes.add((str(getattr(method, "value", method)), normalized(route)))
    return frozenset(routes)


def test_the_api_doc_names_every_route_the_app_serves_and_no_other() -> None:
    documented = {(m, normalized(p)) for m, p in ROUTE.findall(API_DOC.read_text("utf-8"))}
    assert app_routes(), "the app registers no HTTP routes"
    missing = sorted(app_routes() - documented)
    assert not missing, f"routes not in docs/api.md: {missing}"
    unserved = sorted(documented - app_routes())
    assert not unserved, f"docs/api.md names routes the app does not serve: {unserved}"


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_api_path_the_docs_name_is_served(doc: Path) -> None:
    served = {path for _, path in app_routes()}
    named = {normalized(p) for p in PATH.findall(doc.read_text("utf-8"))}
    assert named - served == set(), sorted(named - served)


# --- what the API sends -------------------------------------------------------------------------

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAILED_EVENT = JobEvent(
    job_id="j1",
    sequence=3,
    timestamp=AT,
    status=JobStatus.FAILED,
    progress=40,
    stage=Stage.DONE,
    message="m",
    attempt=1,
    phase="read",
    detail="d",
    eta_seconds=1,
    result={"x": 1},
    error=JobError("corrupt_file", "unreadable", False),
)
# One of each kind of item a stream yields (a kind added to StreamItem fails the test below).
STREAM_ITEMS: Mapping[type, StreamItem] = {
    Connected: Connected("c1", "j1", AT),
    Update: Update(FAILED_EVENT),
    Heartbeat: Heartbeat(AT),
    QueueSnapshot: QueueSnapshot(QueueCounts("resume-analysis", 1, 0, 0), AT),
    TimedOut: TimedOut("j1", 3),
}


def sse_events() -> Iterator[tuple[str, dict[str, Any]]]:
    kinds = set(get_args(StreamItem.__value__))
    assert kinds == set(STREAM_ITEMS), "a new kind of stream item: add it here and to docs/api.md"
    for item in STREAM_ITEMS.values():
        fields = dict(
            line.split(": ", 1) for line in frame(item).decode("utf-8").splitlines() if line
        )
        yield fields["event"], json.loads(fields["data"])
    # The steps vocabulary (seed 003/004's events), for each way a stored event can go.
    for status, error in (
        (JobStatus.STARTED, None),
        (JobStatus.IN_PROGRESS, None),
        (JobStatus.COMPLETED, None),
        (JobStatus.FAILED, FAILED_EVENT.error),
    ):
        stored = replace(FAILED_EVENT, status=status, error=error, result={"x": 1})
        yield from steps_events(stored, "parsing", lambda e: e.stage)
    log_line = replace(FAILED_EVENT, status=JobStatus.IN_PROGRESS, error=None, log=True)
    yield from steps_events(log_line, "parsing", lambda e: e.stage)


def test_the_api_doc_names_every_stream_event_and_its_payload_fields() -> None:
    events_section = section(API_DOC, "### Events")
    documented = backticked(events_section)
    for event, payload in sse_events():
        assert event in documented, f"stream event {event!r} is not in docs/api.md"
        missing = set(payload) - code_words(API_DOC)
        assert not missing, f"{event}: fields not in docs/api.md: {sorted(missing)}"


def _responses() -> dict[str, dict[str, Any]]:
    job = Job(
        job_id="j1",
        owner="o",
        queue_name="resume-analysis",
        job_name="analyze-resume",
        data={},
        created_at=AT,
    )
    return {
        "presign": presigned_out(
            PresignedUpload("https://u", "u/b", "a.txt", "uploads", AT, "text/plain", 10)
        ),
        "enqueue": accepted_out(JobAccepted("j1", JobStatus.QUEUED, "q", "n", "tok")),
        "completed job": job_out(replace(job, status=JobStatus.COMPLETED, result={"x": 1})),
        "failed job": job_out(replace(job, status=JobStatus.FAILED, error=FAILED_EVENT.error)),
        "queue stats": queue_counts_out(QueueCounts("resume-analysis", 1, 2, 3)),
        "queue catalog": catalog_out({"resume-analysis": ("analyze-resume",)}),
        "stream stats": stats_payload(
            HubStats(1, 1, (ConnectionStats("c1", "j1", "o", AT, 2),), 0, 0)
        ),
    }


# Objects inside an answer whose fields are documented too (`result` is the job type's, in
# docs/job-types.md; `headers` are HTTP header names).
NESTED = ("error", "connections", "queues")


@pytest.mark.parametrize("answer", list(_responses()))
def test_the_api_doc_names_every_field_of_the_json_answers(answer: str) -> None:
    body = _responses()[answer]
    fields = set(body)
    for name in NESTED:
        value = body.get(name)
        entries = value if isinstance(value, list) else [value]
        fields |= {key for entry in entries if isinstance(entry, dict) for key in entry}
    missing = fields - code_words(API_DOC)
    assert not missing, f"{answer}: fields not in docs/api.md: {sorted(missing)}"


def test_the_api_doc_names_every_field_of_the_503_answer() -> None:
    """The one 503 shape (requests and health): the envelope, the error, each detail."""
    answer = dependency_unavailable_response({"storage": NOT_ANSWERING}, "c1")
    body = json.loads(bytes(answer.body))
    error = body["error"]
    fields = set(body) | set(error) | {key for detail in error["details"] for key in detail}
    assert {"dependency", "problem", "correlationId"} <= fields
    missing = fields - code_words(API_DOC)
    assert not missing, f"503: fields not in docs/api.md: {sorted(missing)}"
    assert answer.headers["retry-after"] in section(API_DOC, "## Error codes")


def test_the_api_doc_names_every_job_status_and_stage() -> None:
    statuses = backticked(section(API_DOC, "### Statuses"))
    assert {s.value for s in JobStatus} <= statuses
    stages = backticked(section(API_DOC, "### Stages and progress"))
    assert {s.value for s in Stage} <= stages


# --- error codes ----------------------------------------------------------------------------------


def _python_files() -> Iterator[Path]:
    yield from sorted((ROOT / "function_app").rglob("*.py"))


def _calls(name_filter: set[str]) -> Iterator[tuple[Path, ast.Call, str]]:
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in name_filter:
                yield path, node, name


def _constant(node: ast.expr | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


@cache
def domain_errors() -> dict[str, type[DomainError]]:
    for module in pkgutil.walk_packages(function_app.__path__, "function_app."):
        importlib.import_module(module.name)
    found: dict[str, type[DomainError]] = {}
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found[sub.__name__] = sub
            todo.append(sub)
    return found


@cache
def http_error_codes() -> frozenset[tuple[str, int]]:
    """(code, status) of every error the code raises or answers, found in its source."""
    found: set[tuple[str, int]] = set()
    classes = domain_errors()
    for path, call, name in _calls(set(classes)):
        cls = classes[name]
        code_node = _keyword(call, "code")
        code = cls.code if code_node is None else _constant(code_node)
        assert isinstance(code, str), f"{path.name}:{call.lineno}: a code that is not a literal"
        found.add((code, status_for(cls.__new__(cls))))
    for path, call, _ in _calls({"JSONResponse"}):
        body = call.args[0] if call.args else None
        status = _constant(call.args[1]) if len(call.args) > 1 else None
        if isinstance(body, ast.Call) and getattr(body.func, "id", None) == "error_body":
            code = _code_of(body.args[0], classes)
            assert isinstance(code, str), f"{path.name}:{call.lineno}: cannot tell the code"
            assert isinstance(status, int), f"{path.name}:{call.lineno}: cannot tell the status"
            found.add((code, status))
    return frozenset(found)


def _code_of(node: ast.expr, classes: Mapping[str, type[DomainError]]) -> str | None:
    """A literal code, or `SomeError.code`."""
    if isinstance(node, ast.Attribute) and node.attr == "code" and isinstance(node.value, ast.Name):
        cls = classes.get(node.value.id)
        return None if cls is None else cls.code
    value = _constant(node)
    return value if isinstance(value, str) else None


def documented_rows(heading: str, second_column: str) -> set[tuple[str, str]]:
    rows = re.findall(
        rf"^\|\s*`([a-z_]+)`\s*\|\s*({second_column})\s*\|", section(API_DOC, heading), re.M
    )
    return set(rows)


@cache
def string_literals() -> frozenset[str]:
    return frozenset(
        node.value
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_the_error_table_has_every_code_the_api_answers_with_its_status() -> None:
    documented = {
        (code, int(status)) for code, status in documented_rows("## Error codes", r"\d{3}")
    }
    assert http_error_codes(), "found no error codes in function_app/"
    missing = http_error_codes() - documented
    assert not missing, f"not in the table of docs/api.md#error-codes: {sorted(missing)}"
    unknown = {code for code, _ in documented} - string_literals()
    assert not unknown, f"docs/api.md lists codes the code never uses: {sorted(unknown)}"


@cache
def job_error_codes() -> frozenset[tuple[str, bool | None]]:
    """(code, retryable) of every job error the code records; None where it is not a literal."""
    found: set[tuple[str, bool | None]] = set()
    for _, call, name in _calls({"JobError", "PermanentJobError", "TransientJobError"}):
        code = _constant(call.args[0]) if call.args else None
        if not isinstance(code, str):
            continue  # a copy of another error (`JobError(exc.code, ...)`)
        if name == "PermanentJobError":
            retryable: bool | None = False
        elif name == "TransientJobError":
            retryable = True
        else:
            node = call.args[2] if len(call.args) > 2 else _keyword(call, "retryable")
            retryable = False if node is None else _constant(node)
        found.add((code, retryable))
    return frozenset(found)


def test_the_job_error_table_has_every_job_error_code_with_its_retryable() -> None:
    documented = {
        (code, flag == "true")
        for code, flag in documented_rows("### Job error codes", "true|false")
    }
    assert job_error_codes(), "found no job error codes in function_app/"
    for code, retryable in job_error_codes():
        expected = {(code, retryable)} if retryable is not None else {(code, True), (code, False)}
        assert expected & documented, f"{code} (retryable {retryable}) not in docs/api.md"
    unknown = {code for code, _ in documented} - string_literals()
    assert not unknown, f"docs/api.md lists job error codes the code never uses: {sorted(unknown)}"
