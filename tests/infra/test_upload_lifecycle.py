"""Both stacks' lifecycle rule covers every blob type the upload URL can create that lifecycle
management can delete (block and append blobs, their snapshots and versions) in the uploads
container; page blobs are not covered by lifecycle rules, so the upload sweeper's timer and
its settings are in both stacks too."""

from typing import Any

from tests.infra import stacks


def bicep_rule() -> dict[str, Any]:
    resource = stacks.bicep_document("app/data-storage.bicep")["resources"]["lifecycle"]
    (rule,) = resource["config"]["properties"]["policy"]["rules"]
    assert rule["enabled"] is True
    definition: dict[str, Any] = rule["definition"]
    return definition


def terraform_rule() -> dict[str, Any]:
    (rule,) = stacks.terraform_resource("azurerm_storage_management_policy", "data")["rule"]
    assert rule["enabled"] is True
    return rule


def test_both_rules_take_block_and_append_blobs_in_the_uploads_container() -> None:
    bicep, terraform = bicep_rule(), terraform_rule()
    assert sorted(bicep["filters"]["blobTypes"]) == ["appendBlob", "blockBlob"]
    assert sorted(terraform["filters"][0]["blob_types"]) == ["appendBlob", "blockBlob"]
    assert bicep["filters"]["prefixMatch"] == ["${uploadsContainerName}/"]
    assert terraform["filters"][0]["prefix_match"] == ["${local.uploads_container_name}/"]


def test_both_rules_delete_old_uploads_their_snapshots_and_versions() -> None:
    bicep = bicep_rule()["actions"]
    (terraform,) = terraform_rule()["actions"]
    assert bicep["baseBlob"]["delete"] == {"daysAfterCreationGreaterThan": "uploadRetentionDays"}
    assert terraform["base_blob"] == [
        {"delete_after_days_since_creation_greater_than": "${var.upload_retention_days}"}
    ]
    assert bicep["snapshot"]["delete"] == {"daysAfterCreationGreaterThan": 1}
    assert terraform["snapshot"] == [{"delete_after_days_since_creation_greater_than": 1}]
    assert bicep["version"]["delete"] == {"daysAfterCreationGreaterThan": 1}
    assert terraform["version"] == [{"delete_after_days_since_creation": 1}]


def test_the_upload_sweeper_runs_in_both_stacks() -> None:
    for stack in (stacks.bicep(), stacks.terraform()):
        settings = stack.app_settings
        assert settings["UPLOAD_SWEEP_SCHEDULE"] == stacks.Setting("0 */10 * * * *", True)
        assert settings["UNUSED_UPLOAD_TTL_SECONDS"] == stacks.Setting("86400", True)
