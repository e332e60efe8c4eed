"""Every setting the app reads is set in both stacks and in local.settings.sample.json.

Settings.model_fields is read at test time, so a field added to function_app/settings.py
fails here until it is set everywhere or listed below with a reason. The queue-name settings
are function_app/queues.json's (one per queue, named there): each is set everywhere, to the
file's name.
"""

import json

from function_app.settings import Settings
from function_app.topology import topology
from tests.infra import stacks

# Local only, never in Azure: keys and connection strings of the local stand-ins, and the
# test hook that lets a job fail on purpose.
LOCAL_ONLY = {
    "STORAGE_CONNECTION_STRING",  # Azurite account key; Azure uses the endpoints + identity
    "ServiceBusConnection",  # emulator connection string; Azure uses __fullyQualifiedNamespace
    "SERVICEBUS_EMULATOR_ADMIN_URL",  # the local emulator's queue-count endpoint
    "ALLOW_FAULT_INJECTION",  # e2e tests' simulated transient failures; off ("false") locally
}

# Azure only: identity-based endpoints and Entra ID token validation. Locally storage and
# Service Bus use the connection strings above, and AUTH_MODE is "none".
AZURE_ONLY = {
    "STORAGE_BLOB_ENDPOINT",
    "STORAGE_TABLE_ENDPOINT",
    "AZURE_CLIENT_ID",
    "ServiceBusConnection__fullyQualifiedNamespace",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_REQUIRED_ROLES",
    "JWT_REQUIRED_SCOPES",
    "JWT_ALLOWED_CLIENT_IDS",
}

# Optional secrets never set by IaC or the sample: the stream-token key is created at run
# time and kept in the jobs table; the JWKS URL is discovered from JWT_ISSUER; an HS256
# JWT_SECRET is for local testing of AUTH_MODE=jwt only.
OPTIONAL_SECRETS = {"JWT_SECRET", "STREAM_TOKEN_SECRET", "JWT_JWKS_URL"}

# Derived from function_app/queues.json and set nowhere, so the file stays the one copy: the
# queues' MaxDeliveryCount (set it only for a queue changed outside that file).
# WEBSITE_INSTANCE_ID: set by the platform on each instance (never by us, in neither place).
DERIVED = {"SERVICEBUS_MAX_DELIVERY_COUNT", "WEBSITE_INSTANCE_ID"}


def _sample_values() -> dict[str, str]:
    document = json.loads((stacks.ROOT / "local.settings.sample.json").read_text("utf-8"))
    return dict(document["Values"])


def test_exclusion_lists_name_real_settings_and_do_not_overlap() -> None:
    fields = set(Settings.model_fields)
    for listed in (LOCAL_ONLY, AZURE_ONLY, OPTIONAL_SECRETS, DERIVED):
        assert listed <= fields, listed - fields
    assert not LOCAL_ONLY & AZURE_ONLY
    assert not (LOCAL_ONLY | AZURE_ONLY) & OPTIONAL_SECRETS
    assert not (LOCAL_ONLY | AZURE_ONLY | OPTIONAL_SECRETS) & DERIVED


def test_every_setting_the_app_reads_is_set_in_both_stacks() -> None:
    wanted = set(Settings.model_fields) - LOCAL_ONLY - OPTIONAL_SECRETS - DERIVED
    for stack in stacks.both():
        missing = wanted - set(stack.app_settings)
        assert not missing, f"{stack.name} does not set {sorted(missing)}"


def test_no_local_only_or_secret_setting_reaches_azure() -> None:
    for stack in stacks.both():
        leaked = (LOCAL_ONLY | OPTIONAL_SECRETS) & set(stack.app_settings)
        assert not leaked, f"{stack.name} sets {sorted(leaked)}"


def test_every_setting_the_app_reads_is_in_the_local_sample() -> None:
    wanted = set(Settings.model_fields) - AZURE_ONLY - OPTIONAL_SECRETS - DERIVED
    missing = wanted - set(_sample_values())
    assert not missing, f"local.settings.sample.json lacks {sorted(missing)}"


def test_settings_derived_from_the_topology_are_set_nowhere() -> None:
    for stack in stacks.both():
        assert not DERIVED & set(stack.app_settings), stack.name
    assert not DERIVED & set(_sample_values())


def test_each_queues_setting_names_it_everywhere_the_app_runs() -> None:
    """The triggers bind `%SETTING%`: a host without the setting indexes no trigger."""
    expected = {queue.setting: queue.name for queue in topology().queues}
    sample = _sample_values()
    assert {name: sample.get(name) for name in expected} == expected
    for stack in stacks.both():
        assert {name: stack.app_settings[name].value for name in expected} == expected, stack.name


def test_entry_module_setting_is_everywhere_the_app_runs() -> None:
    assert _sample_values()["PYTHON_SCRIPT_FILE_NAME"] == "main.py"
    for stack in stacks.both():
        assert stack.app_settings["PYTHON_SCRIPT_FILE_NAME"].value == "main.py"
