"""Both IaC stacks parsed into one comparable shape (pycep for Bicep, python-hcl2 for Terraform).

Only what the parity tests compare is extracted: resource kinds, queue properties, container
and table names, custom role definitions, role assignments, app settings, outputs. Anything the
mapping does not know raises, so a new resource type forces a deliberate update here instead of
slipping through.

The queue topology both stacks read from function_app/queues.json (Bicep `loadJsonContent`,
Terraform `jsondecode(file(...))`) is loaded here from the path each stack names, and the
expressions that pick from it (for-expressions, property accessors, `concat`, `merge`) are
evaluated; only the forms the stacks use are known, anything else raises.

Conditions are evaluated with the parameter / variable defaults; `bicep(("name", value))` and
`terraform(("name", value))` build a stack with some of them overridden (main.bicep parameters,
Terraform variables).
"""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
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
    "Microsoft.Authorization/roleDefinitions": "role_definition",
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
    "azurerm_role_definition": "role_definition",
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

# Role-assignment and role-definition scopes, named the same way for both stacks.
BICEP_SCOPES = {
    "hostStorage": "host_storage_account",
    "dataStorage": "data_storage_account",
    "uploadsContainer": "uploads_container",
    "jobsTable": "jobs_table",
    "queues[i]": "queue",
    "appInsights": "app_insights",
    "resourceGroup().id": "resource_group",
}
TERRAFORM_SCOPES = {
    "azurerm_storage_account.host.id": "host_storage_account",
    "azurerm_storage_account.data.id": "data_storage_account",
    "azurerm_storage_container.uploads.id": "uploads_container",
    "azapi_resource.jobs_table.id": "jobs_table",
    "each.value.id": "queue",
    "azurerm_application_insights.main.id": "app_insights",
    "data.azurerm_resource_group.main.id": "resource_group",
}

# Custom role definitions (Bicep symbolic name / Terraform resource name -> one name). An
# assignment of one appears in Stack.role_assignments as `custom:<name>` instead of a guid.
BICEP_ROLE_DEFINITIONS = {"queueCountReaderRole": "queue_count_reader"}
TERRAFORM_ROLE_DEFINITIONS = {"queue_count_reader": "queue_count_reader"}
CUSTOM_ROLE_PREFIX = "custom:"

# The Terraform site (an azapi_resource, like the Bicep one) lists its app settings from the
# local map `app_settings` and the queue-name settings of the topology, one {name, value}
# object per entry; the Bicep site likewise from the variables appSettings and queueSettings.
TF_APP_SETTINGS_EXPRESSION = (
    "[for name, value in merge(local.app_settings, local.queue_settings) : "
    "{name = name, value = value}]"
)
BICEP_APP_SETTINGS_EXPRESSION = {
    "function": {"type": "concat", "parameters": {"arg_1": "appSettings", "arg_2": "queueSettings"}}
}


@dataclass(frozen=True)
class Setting:
    """One app setting: a literal value, or an expression the deployment resolves."""

    value: str
    literal: bool


@dataclass(frozen=True)
class RoleDefinition:
    """A custom role the stack creates. The display name's expression syntax differs between
    the stacks, so it is kept for reading but not compared."""

    name: str = field(compare=False)
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    scope: str
    assignable_scopes: frozenset[str]


@dataclass(frozen=True)
class Stack:
    name: str
    resource_kinds: Counter[str]
    queue_names: frozenset[str]
    queue_properties: dict[str, Any]
    containers: frozenset[str]
    tables: frozenset[str]
    role_ids: frozenset[str]  # the built-in role ids the stack lists
    role_definitions: dict[str, RoleDefinition]
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


_TF_JSON_FILE = re.compile(r'jsondecode\(file\("\$\{path\.module\}/([^"$]+)"\)\)')
_TF_LIST_FOR = re.compile(r"\[for (\w+) in (local\.[\w.]+) : \1\.(\w+)\]")
_TF_MAP_FOR = re.compile(r"\{for (\w+) in (local\.[\w.]+) : \1\.(\w+) => \1\.(\w+)\}")
_TF_LOCAL_PATH = re.compile(r"local\.(\w+)((?:\.\w+)*)")


def _tf_evaluate(value: Any, locals_: dict[str, Any]) -> Any:
    """The value of `${expr}` for the forms that read the topology file: jsondecode(file(...)),
    `local.a.b`, `[for q in local.x : q.f]` and `{for q in local.x : q.f => q.g}`. Anything
    else is returned as it is (an expression the deployment computes)."""
    expr = _tf_expression(value) if isinstance(value, str) else None
    if expr is None:
        return value
    if match := _TF_JSON_FILE.fullmatch(expr):
        return json.loads((TERRAFORM_DIR / match.group(1)).read_text(encoding="utf-8"))
    if match := _TF_LIST_FOR.fullmatch(expr):
        items = _tf_evaluate(f"${{{match.group(2)}}}", locals_)
        return [item[match.group(3)] for item in items]
    if match := _TF_MAP_FOR.fullmatch(expr):
        items = _tf_evaluate(f"${{{match.group(2)}}}", locals_)
        return {item[match.group(3)]: item[match.group(4)] for item in items}
    if (match := _TF_LOCAL_PATH.fullmatch(expr)) and match.group(1) in locals_:
        found = _tf_evaluate(locals_[match.group(1)], locals_)
        for key in filter(None, match.group(2).split(".")):
            assert isinstance(found, dict), f"{expr}: {key} of a non-object"
            found = found[key]
        return found
    return value


def _tf_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            docs.append((path, unquote(hcl2.load(handle))))
    return docs


# `var.flag ? a : b`, the only conditional form the stack uses in count and for_each.
_TF_CONDITIONAL = re.compile(r"var\.(\w+)\s*\?\s*(.+?)\s*:\s*(.+)", flags=re.S)


@cache
def terraform(*overrides: tuple[str, Any]) -> Stack:
    docs = _tf_documents()
    locals_: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    resources: list[tuple[str, str, dict[str, Any]]] = []
    outputs: set[str] = set()
    for _, doc in docs:
        for block in doc.get("locals", []):
            locals_.update(block)
        for block in doc.get("variable", []):
            for vname, spec in block.items():
                variables[vname] = spec.get("default")
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for rname, body in named.items():
                    resources.append((rtype, rname, body))
        for block in doc.get("output", []):
            outputs.update(block)
    for vname, value in overrides:
        assert vname in variables, f"no variable {vname}"
        variables[vname] = value

    for name in ("topology", "queue_names", "queue_properties", "queue_settings"):
        locals_[name] = _tf_evaluate(locals_[name], locals_)
    queue_names = list(locals_["queue_names"])

    def branch(expr: str) -> str:
        """The branch of `var.flag ? a : b` the variables select; other expressions as they are."""
        match = _TF_CONDITIONAL.fullmatch(expr)
        if not match:
            return expr
        flag = variables[match.group(1)]
        assert isinstance(flag, bool), f"var.{match.group(1)} is not a bool"
        return match.group(2) if flag else match.group(3)

    def count(body: dict[str, Any]) -> int:
        if "count" in body:
            assert "for_each" not in body
            expr = branch(_tf_expression(str(body["count"])) or str(body["count"]))
            assert re.fullmatch(r"\d+", expr), f"unknown count {body['count']!r}"
            return int(expr)
        for_each = body.get("for_each")
        if for_each is None:
            return 1
        expr = branch(_tf_expression(for_each) or "")
        if expr == "toset(local.queue_names)" or expr == "azurerm_servicebus_queue.jobs":
            return len(queue_names)
        if expr == "local.role_assignments":
            return len(locals_["role_assignments"])
        if expr == "{}":
            return 0
        raise AssertionError(f"unknown for_each {for_each!r}")

    kinds: Counter[str] = Counter()
    containers: set[str] = set()
    tables: set[str] = set()
    queue_props: dict[str, Any] = {}
    assignments: Counter[tuple[str, str]] = Counter()
    definitions: dict[str, RoleDefinition] = {}
    settings: dict[str, Setting] = {}

    def local_value(expr: str) -> Any:
        assert expr.startswith("local."), expr
        return locals_[expr.removeprefix("local.")]

    def role_guid(text: str) -> str:
        custom = re.fullmatch(
            r"\$\{azurerm_role_definition\.(\w+)\[0\]\.role_definition_resource_id\}", text
        )
        if custom:
            return CUSTOM_ROLE_PREFIX + TERRAFORM_ROLE_DEFINITIONS[custom.group(1)]
        match = re.search(r"local\.role_ids\.(\w+)", text)
        assert match, f"role not taken from local.role_ids: {text!r}"
        return str(locals_["role_ids"][match.group(1)])

    for rtype, rname, body in resources:
        if rtype == "azapi_resource":
            kind = ARM_KINDS[body["type"].split("@")[0]]
        else:
            kind = TERRAFORM_KINDS[rtype]
        if kind is None:
            continue
        copies = count(body)
        kinds[kind] += copies
        name = body.get("name", "")
        if kind in ("blob_container", "table"):
            expr = _tf_expression(name)
            (containers if kind == "blob_container" else tables).add(
                local_value(expr) if expr else name
            )
        elif kind == "servicebus_queue":
            queue_props = {
                QUEUE_PROPERTIES[k]: _tf_evaluate(body[k], locals_) for k in QUEUE_PROPERTIES
            }
        elif kind == "role_definition":
            if copies:
                assert copies == 1, f"{rname}: one definition per deployment"
                definitions[TERRAFORM_ROLE_DEFINITIONS[rname]] = _tf_role_definition(body)
        elif kind == "role_assignment":
            if _tf_expression(body["for_each"]) == "local.role_assignments":
                for entry in locals_["role_assignments"].values():
                    scope = TERRAFORM_SCOPES[_tf_expression(entry["scope"]) or ""]
                    assignments[(role_guid(entry["role"]), scope)] += 1
            else:
                scope = TERRAFORM_SCOPES[_tf_expression(body["scope"]) or ""]
                assignments[(role_guid(body["role_definition_id"]), scope)] += copies
        elif kind == "function_app":
            listed = body["body"]["properties"]["siteConfig"]["appSettings"]
            assert _tf_expression(listed) == TF_APP_SETTINGS_EXPRESSION, listed
            for key, value in locals_["app_settings"].items():
                settings[key] = _tf_setting(value)
            for key, value in locals_["queue_settings"].items():
                assert key not in settings, f"{key} is set twice"
                settings[key] = Setting(value=str(value), literal=True)  # from the file

    return Stack(
        name="terraform",
        resource_kinds=kinds,
        queue_names=frozenset(queue_names),
        queue_properties=queue_props,
        containers=frozenset(containers),
        tables=frozenset(tables),
        role_ids=frozenset(locals_["role_ids"].values()),
        role_definitions=definitions,
        role_assignments=+assignments,
        app_settings=settings,
        outputs=frozenset(outputs),
        documents=tuple(doc for _, doc in docs),
        files=tuple(path for path, _ in docs),
    )


def _tf_role_definition(body: dict[str, Any]) -> RoleDefinition:
    (permissions,) = body["permissions"]

    def scope(value: str) -> str:
        return TERRAFORM_SCOPES[_tf_expression(value) or ""]

    return RoleDefinition(
        name=body["name"],
        actions=tuple(permissions.get("actions", [])),
        not_actions=tuple(permissions.get("not_actions", [])),
        data_actions=tuple(permissions.get("data_actions", [])),
        not_data_actions=tuple(permissions.get("not_data_actions", [])),
        scope=scope(body["scope"]),
        assignable_scopes=frozenset(scope(s) for s in body["assignable_scopes"]),
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


def _resolve(
    value: Any,
    file: str,
    docs: dict[str, dict[str, Any]],
    overrides: dict[str, Any],
    bound: dict[str, Any] | None = None,
) -> Any:
    """Follow a bare identifier through variables, module params and param defaults (main.bicep
    parameters in `overrides` replace their defaults); evaluate `cond ? a : b`, `a.b`,
    `loadJsonContent(path)` (relative to `file`), `concat(a, b)` and `[for x in a: {...}]`
    (`bound`: the loop variables in scope). Values read from a JSON file are data, never
    looked up again."""
    bound = bound or {}

    def again(item: Any, names: dict[str, Any] = bound) -> Any:
        return _resolve(item, file, docs, overrides, names)

    if isinstance(value, dict) and "operator" in value:
        operator, operands = value["operator"]["type"], value["operator"]["operands"]
        if operator == "conditional":
            condition = again(operands["condition"])
            assert isinstance(condition, bool), f"{file}: condition {operands['condition']!r}"
            return again(operands["true_value"] if condition else operands["false_value"])
        if operator == "property_accessor":
            target = again(operands["operand_1"])
            if isinstance(target, dict) and "operator" not in target and "function" not in target:
                return target[operands["operand_2"]]
        return value
    if isinstance(value, dict) and "function" in value:
        function, parameters = value["function"]["type"], value["function"]["parameters"]
        if function == "load_json_content":
            assert parameters["json_path"] is None, f"{file}: loadJsonContent with a path"
            path = (BICEP_DIR / file).parent / parameters["file_path"]
            return json.loads(path.read_text(encoding="utf-8"))
        if function == "concat":
            return [item for argument in parameters.values() for item in again(argument)]
        return value
    if isinstance(value, dict) and "loop_type" in value:
        assert value.get("condition") is None, f"{file}: a filtered for-expression"
        detail = value["loop_type"]["detail"]
        body = value["config"]
        results = []
        for item in again(detail["array_name"]):
            names = {**bound, detail["item_name"]: item}
            if isinstance(body, dict) and not {"operator", "function", "loop_type"} & set(body):
                results.append({key: again(part, names) for key, part in body.items()})
            else:
                results.append(again(body, names))
        return results
    if not isinstance(value, str):
        return value
    if value in bound:
        return bound[value]
    doc = docs[file]
    if value in doc.get("variables", {}):
        return _resolve(doc["variables"][value]["value"], file, docs, overrides)
    if value in doc.get("parameters", {}):
        for caller, caller_doc in docs.items():
            for module in caller_doc.get("modules", {}).values():
                if module["detail"]["path"] == file and value in module["config"]["params"]:
                    return _resolve(module["config"]["params"][value], caller, docs, overrides)
        if file == "main.bicep" and value in overrides:
            return overrides[value]
        return _resolve(doc["parameters"][value].get("default"), file, docs, overrides)
    return value


def _bicep_scope(scope: Any) -> str:
    if isinstance(scope, dict):
        operator = scope["operator"]
        operands = operator["operands"]
        if operator["type"] == "index_accessor":
            scope = f"{operands['operand_1']}[{operands['operand_2']}]"
        elif (
            operator["type"] == "property_accessor"
            and operands["operand_1"].get("function", {}).get("type") == "resource_group"
            and operands["operand_2"] == "id"
        ):
            scope = "resourceGroup().id"
        else:
            raise AssertionError(f"unknown scope {scope!r}")
    return BICEP_SCOPES[scope]


def _bicep_role_definition(config: dict[str, Any]) -> RoleDefinition:
    properties = config["properties"]
    assert properties["type"] == "CustomRole"
    (permissions,) = properties["permissions"]
    return RoleDefinition(
        name=properties["roleName"],
        actions=tuple(permissions.get("actions", [])),
        not_actions=tuple(permissions.get("notActions", [])),
        data_actions=tuple(permissions.get("dataActions", [])),
        not_data_actions=tuple(permissions.get("notDataActions", [])),
        # A resource-group deployment creates it in its resource group (no `scope` property).
        scope=_bicep_scope(config.get("scope", "resourceGroup().id")),
        assignable_scopes=frozenset(_bicep_scope(s) for s in properties["assignableScopes"]),
    )


@cache
def bicep(*overrides: tuple[str, Any]) -> Stack:
    docs = _bicep_documents()
    params = dict(overrides)
    for name in params:
        assert name in docs["main.bicep"]["parameters"], f"no parameter {name}"

    def resolve(value: Any, file: str) -> Any:
        return _resolve(value, file, docs, params)

    queue_names = resolve("queueNames", "main.bicep")
    kinds: Counter[str] = Counter()
    containers: set[str] = set()
    tables: set[str] = set()
    queue_props: dict[str, Any] = {}
    assignments: Counter[tuple[str, str]] = Counter()
    definitions: dict[str, RoleDefinition] = {}
    role_ids: set[str] = set()
    settings: dict[str, Setting] = {}

    for file, doc in docs.items():
        file_params = set(doc.get("parameters", {}))
        resources = doc.get("resources", {})
        # Custom role definitions by the identifier that names them (a variable).
        definition_names = {
            resource["config"].get("config", resource["config"])["name"]: symbol
            for symbol, resource in resources.items()
            if resource["type"] == "Microsoft.Authorization/roleDefinitions"
        }
        for symbol, resource in resources.items():
            if resource["existing"]:
                continue
            kind = ARM_KINDS[resource["type"]]
            config = resource["config"]
            copies = 1
            if "loop_type" in config:
                assert config.get("condition") is None, f"{symbol}: use `in (cond ? list : [])`"
                copies = len(resolve(config["loop_type"]["detail"]["array_name"], file))
                config = config["config"]
            elif "condition" in config:
                condition = resolve(config["condition"], file)
                assert isinstance(condition, bool), f"{symbol}: condition {config['condition']!r}"
                copies = int(condition)
                config = config["config"]
            if kind is None:
                continue
            kinds[kind] += copies
            if kind == "blob_container":
                containers.add(resolve(config["name"], file))
            elif kind == "table":
                tables.add(resolve(config["name"], file))
            elif kind == "servicebus_queue":
                queue_props = {k: resolve(v, file) for k, v in config["properties"].items()}
            elif kind == "function_app":
                listed = config["properties"]["siteConfig"]["appSettings"]
                assert listed == BICEP_APP_SETTINGS_EXPRESSION, listed
                for entry in resolve("queueSettings", file):
                    assert entry["name"] not in settings, f"{entry['name']} is set twice"
                    settings[entry["name"]] = Setting(value=str(entry["value"]), literal=True)
            elif kind == "role_definition":
                if copies:
                    definitions[BICEP_ROLE_DEFINITIONS[symbol]] = _bicep_role_definition(config)
            elif kind == "role_assignment":
                role_fn = config["properties"]["roleDefinitionId"]["function"]
                role_name = role_fn["parameters"]["resource_name_1"]
                if isinstance(role_name, str):
                    definition = definition_names[role_name]
                    assert definition in config.get("dependsOn", []), (
                        f"{symbol}: depend on {definition}, ARM does not infer it from a name"
                    )
                    guid = CUSTOM_ROLE_PREFIX + BICEP_ROLE_DEFINITIONS[definition]
                else:
                    accessor = role_name["operator"]["operands"]
                    guid = resolve(accessor["operand_1"], file)[accessor["operand_2"]]
                assignments[(guid, _bicep_scope(config["scope"]))] += copies
        if "roles" in doc.get("variables", {}):
            role_ids.update(doc["variables"]["roles"]["value"].values())
        if "appSettings" in doc.get("variables", {}):
            for entry in doc["variables"]["appSettings"]["value"]:
                value = entry["value"]
                literal = isinstance(value, str) and value not in file_params and "${" not in value
                settings[entry["name"]] = Setting(value=str(value), literal=literal)

    return Stack(
        name="bicep",
        resource_kinds=kinds,
        queue_names=frozenset(queue_names),
        queue_properties=queue_props,
        containers=frozenset(containers),
        tables=frozenset(tables),
        role_ids=frozenset(role_ids),
        role_definitions=definitions,
        role_assignments=+assignments,
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


def terraform_variable_spec(name: str) -> dict[str, Any]:
    for _, doc in _tf_documents():
        for block in doc.get("variable", []):
            if name in block:
                return dict(block[name])
    raise KeyError(name)


def terraform_variable_default(name: str) -> Any:
    return terraform_variable_spec(name).get("default")
