"""Bicep and Terraform build the same system: resources, queues, names, roles, settings, outputs."""

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from function_app.settings import DEFAULT_QUEUES, Settings
from function_app.topology import topology
from tests.infra import stacks

# Built-in role ids, independent of both stacks (Azure built-in roles are the same everywhere).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
SERVICE_BUS_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
SERVICE_BUS_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# Not granted: Actions Microsoft.ServiceBus/* (update, delete the queue) and every data action.
SERVICE_BUS_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"

# The custom role both stacks define (stacks.RoleDefinition), and its one action: read a queue
# (description + runtime counts). Azure RBAC permissions reference, Microsoft.ServiceBus;
# MicrosoftDocs/azure-docs PR #128626 ("Scaling permissions").
QUEUE_COUNT_READER = stacks.CUSTOM_ROLE_PREFIX + "queue_count_reader"
QUEUE_READ_ACTION = "Microsoft.ServiceBus/namespaces/queues/read"
GRANT_FLAG = {"bicep": "grantQueueCountReader", "terraform": "grant_queue_count_reader"}

# The least-privilege contract: exactly these (role, scope) pairs, nothing broader.
EXPECTED_ASSIGNMENTS = Counter(
    {
        (STORAGE_BLOB_DATA_OWNER, "host_storage_account"): 1,
        (STORAGE_TABLE_DATA_CONTRIBUTOR, "host_storage_account"): 1,
        (STORAGE_BLOB_DATA_CONTRIBUTOR, "uploads_container"): 1,
        (STORAGE_BLOB_DELEGATOR, "data_storage_account"): 1,
        (STORAGE_TABLE_DATA_CONTRIBUTOR, "jobs_table"): 1,
        (SERVICE_BUS_DATA_SENDER, "queue"): len(DEFAULT_QUEUES),
        (SERVICE_BUS_DATA_RECEIVER, "queue"): len(DEFAULT_QUEUES),
        # Runtime counts (QueueStats, the Service Bus scale monitor); grantQueueCountReader.
        (QUEUE_COUNT_READER, "queue"): len(DEFAULT_QUEUES),
        (MONITORING_METRICS_PUBLISHER, "app_insights"): 1,
    }
)

# function_app/queues.json's properties under their ARM names (a lowercase first letter).
EXPECTED_QUEUE_PROPERTIES = {
    name[0].lower() + name[1:]: value
    for name, value in topology().queue_properties.as_service_bus().items()
}

STACKS = pytest.mark.parametrize("stack", [stacks.bicep, stacks.terraform], ids=["bicep", "tf"])


def test_both_stacks_create_the_same_kinds_and_counts_of_resources() -> None:
    bicep, terraform = stacks.both()
    assert bicep.resource_kinds == terraform.resource_kinds
    assert bicep.resource_kinds["storage_account"] == 2
    assert bicep.resource_kinds["identity"] == 1


@STACKS
def test_queues_are_the_apps_queues_with_the_worker_contract(
    stack: Callable[[], stacks.Stack],
) -> None:
    built = stack()
    assert built.queue_names == frozenset(DEFAULT_QUEUES)
    assert built.queue_properties == EXPECTED_QUEUE_PROPERTIES


@STACKS
def test_container_and_table_names_match_the_settings_defaults(
    stack: Callable[[], stacks.Stack],
) -> None:
    built = stack()
    fields = Settings.model_fields
    assert fields["UPLOADS_CONTAINER"].default in built.containers
    assert built.containers == {fields["UPLOADS_CONTAINER"].default, "app-package"}
    assert built.tables == {fields["JOBS_TABLE"].default}


@STACKS
def test_role_assignments_are_exactly_the_least_privilege_set(
    stack: Callable[[], stacks.Stack],
) -> None:
    built = stack()
    assert built.role_assignments == EXPECTED_ASSIGNMENTS
    assert built.role_ids == {
        guid for guid, _ in EXPECTED_ASSIGNMENTS if not guid.startswith(stacks.CUSTOM_ROLE_PREFIX)
    }
    assert set(built.role_definitions) == {
        QUEUE_COUNT_READER.removeprefix(stacks.CUSTOM_ROLE_PREFIX)
    }


@STACKS
def test_queue_count_reader_is_one_read_action_assigned_only_on_queues(
    stack: Callable[[], stacks.Stack],
) -> None:
    built = stack()
    role = built.role_definitions["queue_count_reader"]
    assert role.actions == (QUEUE_READ_ACTION,)
    assert role.not_actions == ()
    assert role.data_actions == ()
    assert role.not_data_actions == ()
    assert "*" not in QUEUE_READ_ACTION
    # Created in, and assignable only within, the deployment's resource group.
    assert role.scope == "resource_group"
    assert role.assignable_scopes == {"resource_group"}
    # Custom role names are unique per tenant: the environment and the (globally unique)
    # namespace name keep two deployments apart.
    assert role.name.startswith("jobstream Service Bus queue reader (")
    assert ("environmentName" if built.name == "bicep" else "var.environment_name") in role.name
    assert {
        scope for role_id, scope in built.role_assignments if role_id == QUEUE_COUNT_READER
    } == {"queue"}


def test_both_stacks_define_the_same_custom_role() -> None:
    bicep, terraform = stacks.both()
    assert bicep.role_definitions == terraform.role_definitions


def test_service_bus_roles_are_sender_receiver_and_the_reader_per_queue() -> None:
    """No Data Owner: Send, Listen and the one read action, each on each queue only."""
    queue_stats = (stacks.ROOT / "function_app" / "adapters" / "queue_stats.py").read_text("utf-8")
    assert "get_queue_runtime_properties" in queue_stats
    service_bus = {SERVICE_BUS_DATA_SENDER, SERVICE_BUS_DATA_RECEIVER, QUEUE_COUNT_READER}
    for stack in stacks.both():
        assert SERVICE_BUS_DATA_OWNER not in stack.role_ids, stack.name
        assert all(role != SERVICE_BUS_DATA_OWNER for role, _ in stack.role_assignments)
        scopes = {scope for role, scope in stack.role_assignments if role in service_bus}
        assert scopes == {"queue"}, stack.name


def test_the_queue_count_reader_is_on_by_default_and_one_flag_skips_all_of_it() -> None:
    bicep_param = stacks.bicep_document("main.bicep")["parameters"][GRANT_FLAG["bicep"]]
    assert bicep_param["type"] == "bool"
    assert bicep_param["default"] is True
    assert stacks.terraform_variable_spec(GRANT_FLAG["terraform"])["type"] == "bool"
    assert stacks.terraform_variable_default(GRANT_FLAG["terraform"]) is True
    without = {
        "bicep": stacks.bicep((GRANT_FLAG["bicep"], False)),
        "terraform": stacks.terraform((GRANT_FLAG["terraform"], False)),
    }
    expected = EXPECTED_ASSIGNMENTS - Counter({(QUEUE_COUNT_READER, "queue"): len(DEFAULT_QUEUES)})
    for name, built in without.items():
        assert built.role_assignments == expected, name
        assert built.role_definitions == {}, name
        assert built.resource_kinds["role_definition"] == 0, name
    assert without["bicep"].resource_kinds == without["terraform"].resource_kinds


def test_app_settings_have_the_same_names_and_literal_values_in_both_stacks() -> None:
    bicep, terraform = stacks.both()
    assert set(bicep.app_settings) == set(terraform.app_settings)
    for name, setting in bicep.app_settings.items():
        other = terraform.app_settings[name]
        assert setting.literal == other.literal, name
        if setting.literal:
            assert setting.value == other.value, name


@STACKS
def test_settings_the_platform_and_worker_rely_on(stack: Callable[[], stacks.Stack]) -> None:
    settings = stack().app_settings
    literal = {name: s.value for name, s in settings.items() if s.literal}
    assert literal["PYTHON_SCRIPT_FILE_NAME"] == "main.py"
    assert (stacks.ROOT / "main.py").is_file()
    assert literal["AzureWebJobsStorage__credential"] == "managedidentity"
    assert literal["ServiceBusConnection__credential"] == "managedidentity"
    # The last delivery must end a job `failed`: the app and the queues agree on the count,
    # the app reading it from the file the queues are created from.
    assert "SERVICEBUS_MAX_DELIVERY_COUNT" not in settings
    assert (
        Settings.model_fields["SERVICEBUS_MAX_DELIVERY_COUNT"].get_default(
            call_default_factory=True
        )
        == stack().queue_properties["maxDeliveryCount"]
    )
    # Streams rotate before Azure's 230 s front-end limit.
    assert 0 < int(literal["STREAM_MAX_AGE_SECONDS"]) < 230
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].value.startswith(
        "Authorization=AAD;ClientId="
    )
    for name in (
        "AzureWebJobsStorage__clientId",
        "ServiceBusConnection__clientId",
        "AZURE_CLIENT_ID",
    ):
        assert not settings[name].literal, f"{name} must come from the identity"
    # Every value parses as the app's settings model would read it.
    Settings.model_validate(
        {
            **literal,
            "AUTH_MODE": "none",
            "STORAGE_BLOB_ENDPOINT": "https://x.blob.core.windows.net/",
            "STORAGE_TABLE_ENDPOINT": "https://x.table.core.windows.net/",
            "ServiceBusConnection__fullyQualifiedNamespace": "x.servicebus.windows.net",
        }
    )


def test_outputs_have_the_same_upper_snake_names() -> None:
    bicep, terraform = stacks.both()
    assert bicep.outputs == terraform.outputs
    assert {"API_BASE_URL", "STORAGE_BLOB_ENDPOINT", "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"} <= (
        bicep.outputs
    )
    assert all(name == name.upper() for name in bicep.outputs)


def test_flex_consumption_runtime_and_http_concurrency() -> None:
    site = stacks.bicep_document("app/api.bicep")["resources"]["functionApp"]["config"]
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    main_params = stacks.bicep_document("main.bicep")["parameters"]
    assert main_params["httpPerInstanceConcurrency"]["default"] >= 100

    tf_config = stacks.terraform_resource("azapi_resource", "api")["body"]["properties"][
        "functionAppConfig"
    ]
    assert tf_config["runtime"] == {"name": "python", "version": "3.13"}
    assert tf_config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    http = tf_config["scaleAndConcurrency"]["triggers"]["http"]
    assert http["perInstanceConcurrency"] == "${var.http_per_instance_concurrency}"
    assert stacks.terraform_variable_default("http_per_instance_concurrency") >= 100


def _site_shape(value: Any, is_expression: Callable[[Any], bool], path: str = "") -> dict[str, Any]:
    """Key path -> literal leaf, or None for a value the deployment computes."""
    if isinstance(value, dict) and not is_expression(value):
        shape: dict[str, Any] = {}
        for key, item in value.items():
            shape.update(_site_shape(item, is_expression, f"{path}.{key}"))
        return shape
    return {path: None if is_expression(value) else value}


def test_both_stacks_send_the_same_site_body() -> None:
    """The Terraform site is an azapi_resource with the Bicep site's ARM properties."""
    bicep_doc = stacks.bicep_document("app/api.bicep")
    params = set(bicep_doc["parameters"])
    bicep_site = dict(bicep_doc["resources"]["functionApp"]["config"]["properties"])
    tf_resource = stacks.terraform_resource("azapi_resource", "api")
    tf_site = dict(tf_resource["body"]["properties"])
    # App settings are compared name by name elsewhere (same names, same literal values).
    for site in (bicep_site, tf_site):
        site["siteConfig"] = {k: v for k, v in site["siteConfig"].items() if k != "appSettings"}

    def bicep_expression(value: Any) -> bool:
        return (isinstance(value, dict) and bool({"operator", "function"} & set(value))) or (
            isinstance(value, str) and value in params
        )

    def tf_expression(value: Any) -> bool:
        return isinstance(value, str) and "${" in value

    assert _site_shape(bicep_site, bicep_expression) == _site_shape(tf_site, tf_expression)
    assert tf_resource["body"]["kind"] == bicep_doc["resources"]["functionApp"]["config"]["kind"]
    assert tf_resource["type"].split("@") == [
        bicep_doc["resources"]["functionApp"]["type"],
        bicep_doc["resources"]["functionApp"]["api_version"],
    ]


def test_blob_cors_allows_browser_uploads_and_nothing_else() -> None:
    rule = stacks.bicep_document("app/data-storage.bicep")["variables"]["uploadCorsRule"]["value"]
    tf_account = stacks.terraform_resource("azurerm_storage_account", "data")
    tf_rule = tf_account["blob_properties"][0]["dynamic"][0]["cors_rule"]["content"][0]
    for methods, headers in (
        (rule["allowedMethods"], rule["allowedHeaders"]),
        (tf_rule["allowed_methods"], tf_rule["allowed_headers"]),
    ):
        assert sorted(methods) == ["OPTIONS", "PUT"]
        assert {"x-ms-blob-type", "Content-Type", "x-ms-*"} <= set(headers)
    assert rule["allowedOrigins"] == "allowedOrigins"
    assert tf_rule["allowed_origins"] == "${var.allowed_origins}"


@STACKS
def test_the_app_traces_through_opentelemetry_in_azure(stack: Callable[[], stacks.Stack]) -> None:
    """docs/tracing.md: the host emits OpenTelemetry (host.json), the Python worker sets up
    Azure Monitor and continues the host's trace (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY),
    and no local span export runs in Azure."""
    settings = stack().app_settings
    literal = {name: s.value for name, s in settings.items() if s.literal}
    assert literal["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    assert literal["TRACE_EXPORT"] == "none"
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
    host = json.loads((stacks.ROOT / "host.json").read_text("utf-8"))
    assert host["telemetryMode"] == "OpenTelemetry"
