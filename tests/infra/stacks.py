"""Both IaC stacks parsed into one comparable shape (pycep for Bicep, python-hcl2 for Terraform).

Only what the parity tests compare is extracted: resource kinds, queue properties, container
and table names, role assignments, app settings, outputs. Anything the mapping does not know
raises, so a new resource type forces a deliberate update here instead of slipping through.
"""

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
BICEP_DIR = ROOT / "infra" / "bicep"
TERRAFORM_DIR = ROOT / "infra" / "terraform"

# ARM type -> canonical kind. None: Terraform sets it as a block or attribute of its parent
# (blob/table service settings, basic-auth publishing policies), so it is not a resource there.
ARM_KINDS: dict[str, str | None] = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": "identity",
    "Microsoft.OperationalInsights/workspaces": "log_analytics",
    "Microsoft.Insights/components": "app_insights",
    "Microsoft.Storage/storageAccounts": "storage_account",
    "Microsoft.Storage/storageAccounts/blobServices": None,
    "Microsoft.Storage/storageAccounts/tableServices": None,
    "Microsoft.Storage/storageAccounts/blobServices/containers": "blob_container",
    "Microsoft.Storage/storageAccounts/tableServices/tables": "table",
    "Microsoft.Storage/storageAccounts/managementPolicies": "lifecycle_policy",
    "Microsoft.ServiceBus/namespaces": "servicebus_namespace",
    "Microsoft.ServiceBus/namespaces/queues": "servicebus_queue",
    "Microsoft.Web/serverfarms": "plan",
    "Microsoft.Web/sites": "function_app",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": None,
    "Microsoft.Authorization/roleAssignments": "role_assignment",
}

TERRAFORM_KINDS: dict[str, str] = {
    "azurerm_user_assigned_identity": "identity",
    "azurerm_log_analytics_workspace": "log_analytics",
    "azurerm_application_insights": "app_insights",
    "azurerm_storage_account": "storage_account",
    "azurerm_storage_container": "blob_container",
    "azurerm_storage_management_policy": "lifecycle_policy",
    "azurerm_servicebus_namespace": "servicebus_namespace",
    "azurerm_servicebus_queue": "servicebus_queue",
    "azurerm_service_plan": "plan",
    "azurerm_role_assignment": "role_assignment",
    # azapi_resource: kind taken from its ARM `type` through ARM_KINDS.
}

# Terraform queue argument -> ARM property name.
QUEUE_PROPERTIES = {
    "lock_duration": "lockDuration",
    "max_delivery_count": "maxDeliveryCount",
    "default_message_ttl": "defaultMessageTimeToLive",
    "dead_lettering_on_message_expiration": "deadLetteringOnMessageExpiration",
    "requires_duplicate_detection": "requiresDuplicateDetection",
    "duplicate_detection_history_time_window": "duplicateDetectionHistoryTimeWindow",
    "requires_session": "requiresSession",
}

# Role-assignment scopes, named the same way for both stacks.
BICEP_SCOPES = {
    "hostStorage": "host_storage_account",
    "dataStorage": "data_storage_account",
    "uploadsContainer": "uploads_container",
    "jobsTable": "jobs_table",
    "queues[i]": "queue",
    "appInsights": "app_insights",
}
TERRAFORM_SCOPES = {
    "azurerm_storage_account.host.id": "host_storage_account",
    "azurerm_storage_account.data.id": "data_storage_account",
    "azurerm_storage_container.uploads.id": "uploads_container",
    "azapi_resource.jobs_table.id": "jobs_table",
    "each.value.id": "queue",
    "azurerm_application_insights.main.id": "app_insights",
}

# The Terraform site (an azapi_resource, like the Bicep one) lists its app settings from the
# local map `app_settings`, one {name, value} object per entry.
TF_APP_SETTINGS_EXPRESSION = (
    "[for name, value in local.app_settings : {name = name, value = value}]"
)


@dataclass(frozen=True)
class Setting:
    """One app setting: a literal value, or an expression the deployment resolves."""

    value: str
    literal: bool


@dataclass(frozen=True)
class Stack:
    name: str
    resource_kinds: Counter[str]
    queue_names: frozenset[str]
    queue_properties: dict[str, Any]
    containers: frozenset[str]
    tables: frozenset[str]
    role_ids: frozenset[str]
    role_assignments: Counter[tuple[str, str]]
    app_settings: dict[str, Setting]
    outputs: frozenset[str]
    documents: tuple[Any, ...]
    files: tuple[Path, ...]


# --- Terraform ------------------------------------------------------------------------------


def unquote(value: Any) -> Any:
    """python-hcl2 keeps quotes on strings: '"x"' -> 'x'; '${expr}' stays as it is."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _tf_expression(value: str) -> str | None:
    match = re.fullmatch(r"\$\{(.*)\}", value, flags=re.S)
    return match.group(1).strip() if match else None


def _tf_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            docs.append((path, unquote(hcl2.load(handle))))
    return docs


@cache
def terraform() -> Stack:
    docs = _tf_documents()
    locals_: dict[str, Any] = {}
    resources: list[tuple[str, str, dict[str, Any]]] = []
    outputs: set[str] = set()
    for _, doc in docs:
        for block in doc.get("locals", []):
            locals_.update(block)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for rname, body in named.items():
                    resources.append((rtype, rname, body))
        for block in doc.get("output", []):
            outputs.update(block)

    queue_names = list(locals_["queue_names"])

    def count(body: dict[str, Any]) -> int:
        for_each = body.get("for_each")
        if for_each is None:
            return 1
        expr = _tf_expression(for_each)
        if expr == "toset(local.queue_names)" or expr == "azurerm_servicebus_queue.jobs":
            return len(queue_names)
        if expr == "local.role_assignments":
            return len(locals_["role_assignments"])
        raise AssertionError(f"unknown for_each {for_each!r}")

    kinds: Counter[str] = Counter()
    containers: set[str] = set()
    tables: set[str] = set()
    queue_props: dict[str, Any] = {}
    assignments: Counter[tuple[str, str]] = Counter()
    settings: dict[str, Setting] = {}

    def local_value(expr: str) -> Any:
        assert expr.startswith("local."), expr
        return locals_[expr.removeprefix("local.")]

    def role_guid(text: str) -> str:
        match = re.search(r"local\.role_ids\.(\w+)", text)
        assert match, f"role not taken from local.role_ids: {text!r}"
        return str(locals_["role_ids"][match.group(1)])

    for rtype, _rname, body in resources:
        if rtype == "azapi_resource":
            kind = ARM_KINDS[body["type"].split("@")[0]]
        else:
            kind = TERRAFORM_KINDS[rtype]
        if kind is None:
            continue
        kinds[kind] += count(body)
        name = body.get("name", "")
        if kind in ("blob_container", "table"):
            expr = _tf_expression(name)
            (containers if kind == "blob_container" else tables).add(
                local_value(expr) if expr else name
            )
        elif kind == "servicebus_queue":
            queue_props = {QUEUE_PROPERTIES[k]: body[k] for k in QUEUE_PROPERTIES}
        elif kind == "role_assignment":
            if _tf_expression(body["for_each"]) == "local.role_assignments":
                for entry in locals_["role_assignments"].values():
                    scope = TERRAFORM_SCOPES[_tf_expression(entry["scope"]) or ""]
                    assignments[(role_guid(entry["role"]), scope)] += 1
            else:
                scope = TERRAFORM_SCOPES[_tf_expression(body["scope"]) or ""]
                assignments[(role_guid(body["role_definition_id"]), scope)] += count(body)
        elif kind == "function_app":
            listed = body["body"]["properties"]["siteConfig"]["appSettings"]
            assert _tf_expression(listed) == TF_APP_SETTINGS_EXPRESSION, listed
            for key, value in locals_["app_settings"].items():
                settings[key] = _tf_setting(value)

    return Stack(
        name="terraform",
        resource_kinds=kinds,
        queue_names=frozenset(queue_names),
        queue_properties=queue_props,
        containers=frozenset(containers),
        tables=frozenset(tables),
        role_ids=frozenset(locals_["role_ids"].values()),
        role_assignments=assignments,
        app_settings=settings,
        outputs=frozenset(outputs),
        documents=tuple(doc for _, doc in docs),
        files=tuple(path for path, _ in docs),
    )


def _tf_setting(value: Any) -> Setting:
    text = str(value)
    return Setting(value=text, literal="${" not in text)


# --- Bicep ----------------------------------------------------------------------------------


@cache
def _bicep_documents() -> dict[str, dict[str, Any]]:
    parser = BicepParser()
    return {
        path.relative_to(BICEP_DIR).as_posix(): parser.parse(file_path=path)
        for path in sorted(BICEP_DIR.rglob("*.bicep"))
    }


def _resolve(value: Any, file: str, docs: dict[str, dict[str, Any]]) -> Any:
    """Follow a bare identifier through variables, module params and param defaults."""
    if not isinstance(value, str):
        return value
    doc = docs[file]
    if value in doc.get("variables", {}):
        return _resolve(doc["variables"][value]["value"], file, docs)
    if value in doc.get("parameters", {}):
        for caller, caller_doc in docs.items():
            for module in caller_doc.get("modules", {}).values():
                if module["detail"]["path"] == file and value in module["config"]["params"]:
                    return _resolve(module["config"]["params"][value], caller, docs)
        return _resolve(doc["parameters"][value].get("default"), file, docs)
    return value


def _bicep_scope(scope: Any) -> str:
    if isinstance(scope, dict):
        operands = scope["operator"]["operands"]
        scope = f"{operands['operand_1']}[{operands['operand_2']}]"
    return BICEP_SCOPES[scope]


@cache
def bicep() -> Stack:
    docs = _bicep_documents()
    queue_names = _resolve("queueNames", "main.bicep", docs)
    kinds: Counter[str] = Counter()
    containers: set[str] = set()
    tables: set[str] = set()
    queue_props: dict[str, Any] = {}
    assignments: Counter[tuple[str, str]] = Counter()
    role_ids: set[str] = set()
    settings: dict[str, Setting] = {}

    for file, doc in docs.items():
        params = set(doc.get("parameters", {}))
        for resource in doc.get("resources", {}).values():
            if resource["existing"]:
                continue
            kind = ARM_KINDS[resource["type"]]
            config = resource["config"]
            copies = 1
            if "loop_type" in config:
                copies = len(_resolve(config["loop_type"]["detail"]["array_name"], file, docs))
                config = config["config"]
            if kind is None:
                continue
            kinds[kind] += copies
            if kind == "blob_container":
                containers.add(_resolve(config["name"], file, docs))
            elif kind == "table":
                tables.add(_resolve(config["name"], file, docs))
            elif kind == "servicebus_queue":
                queue_props = dict(config["properties"])
            elif kind == "role_assignment":
                role_fn = config["properties"]["roleDefinitionId"]["function"]
                accessor = role_fn["parameters"]["resource_name_1"]["operator"]["operands"]
                guid = _resolve(accessor["operand_1"], file, docs)[accessor["operand_2"]]
                assignments[(guid, _bicep_scope(config["scope"]))] += copies
        if "roles" in doc.get("variables", {}):
            role_ids.update(doc["variables"]["roles"]["value"].values())
        if "appSettings" in doc.get("variables", {}):
            for entry in doc["variables"]["appSettings"]["value"]:
                value = entry["value"]
                literal = isinstance(value, str) and value not in params and "${" not in value
                settings[entry["name"]] = Setting(value=str(value), literal=literal)

    return Stack(
        name="bicep",
        resource_kinds=kinds,
        queue_names=frozenset(queue_names),
        queue_properties=queue_props,
        containers=frozenset(containers),
        tables=frozenset(tables),
        role_ids=frozenset(role_ids),
        role_assignments=assignments,
        app_settings=settings,
        outputs=frozenset(docs["main.bicep"].get("outputs", {})),
        documents=tuple(docs.values()),
        files=tuple(sorted(BICEP_DIR.rglob("*.bicep"))),
    )


def both() -> tuple[Stack, Stack]:
    return bicep(), terraform()


def bicep_document(file: str) -> dict[str, Any]:
    return _bicep_documents()[file]


def terraform_resource(rtype: str, rname: str) -> dict[str, Any]:
    for _, doc in _tf_documents():
        for block in doc.get("resource", []):
            if rtype in block and rname in block[rtype]:
                return dict(block[rtype][rname])
    raise KeyError(f"{rtype}.{rname}")


def terraform_resource_types() -> set[str]:
    return {
        rtype for _, doc in _tf_documents() for block in doc.get("resource", []) for rtype in block
    }


def terraform_variable_default(name: str) -> Any:
    for _, doc in _tf_documents():
        for block in doc.get("variable", []):
            if name in block:
                return block[name].get("default")
    raise KeyError(name)
