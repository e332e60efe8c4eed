"""Nothing in either stack holds a key, a connection string with a secret, or a password;
every service that could accept one has key-based auth switched off."""

import re
from pathlib import Path

import pytest

from tests.infra import stacks

INFRA_SUFFIXES = {".bicep", ".tf", ".json", ".toml", ".example"}
INFRA_FILES = [
    *sorted(
        p for p in (stacks.ROOT / "infra").rglob("*") if p.is_file() and p.suffix in INFRA_SUFFIXES
    ),
    stacks.ROOT / "azure.yaml",
]

# ARM functions and provider attributes that read keys, and the shapes of keys in strings.
FORBIDDEN = [
    r"listKeys\s*\(",
    r"listAccountSas|listServiceSas|listConnectionStrings",
    r"\w*access_key\b",
    r"primary_connection_string|secondary_connection_string|default_primary_connection_string",
    r"AccountKey\s*=",
    r"SharedAccessKey(Name)?\s*=",
    r"\bsig=",
    r"password",
    r"checkov:skip",  # exceptions live in infra/checkov-skips.toml, with reasons
]


@pytest.mark.parametrize("path", INFRA_FILES, ids=lambda p: p.relative_to(stacks.ROOT).as_posix())
def test_infra_file_reads_or_holds_no_key(path: Path) -> None:
    text = path.read_text("utf-8")
    hits = [pattern for pattern in FORBIDDEN if re.search(pattern, text, flags=re.I)]
    assert not hits, f"{path.name} matches {hits}"


def test_app_setting_values_carry_no_secret() -> None:
    for stack in stacks.both():
        for name, setting in stack.app_settings.items():
            assert not re.search(r"key=|secret|password", setting.value, re.I), (stack.name, name)
            assert "SECRET" not in name.upper(), (stack.name, name)


def test_key_based_auth_is_disabled_everywhere() -> None:
    docs = {
        f: stacks.bicep_document(f) for f in ("app/host-storage.bicep", "app/data-storage.bicep")
    }
    for doc in docs.values():
        props = doc["resources"]["account"]["config"]["properties"]
        assert props["allowSharedKeyAccess"] is False
        assert props["allowBlobPublicAccess"] is False
    sb = stacks.bicep_document("app/servicebus.bicep")["resources"]["namespace"]["config"]
    assert sb["properties"]["disableLocalAuth"] is True
    appi = stacks.bicep_document("app/monitoring.bicep")["resources"]["appInsights"]["config"]
    assert appi["properties"]["DisableLocalAuth"] is True

    for name in ("host", "data"):
        account = stacks.terraform_resource("azurerm_storage_account", name)
        assert account["shared_access_key_enabled"] is False
        assert account["allow_nested_items_to_be_public"] is False
    namespace = stacks.terraform_resource("azurerm_servicebus_namespace", "main")
    assert namespace["local_auth_enabled"] is False
    insights = stacks.terraform_resource("azurerm_application_insights", "main")
    assert insights["local_authentication_disabled"] is True
    for policy, name in (("ftpBasicAuth", "ftp"), ("scmBasicAuth", "scm")):
        resource = stacks.bicep_document("app/api.bicep")["resources"][policy]["config"]
        assert resource["properties"]["allow"] is False
        assert resource["name"] == name
        tf_policy = stacks.terraform_resource("azapi_resource", f"{name}_basic_auth")
        assert tf_policy["type"].startswith(
            "Microsoft.Web/sites/basicPublishingCredentialsPolicies@"
        )
        assert tf_policy["name"] == name
        assert tf_policy["body"]["properties"]["allow"] is False
        assert tf_policy["parent_id"] == "${azapi_resource.api.id}"
