"""Both stacks take the queue topology from function_app/queues.json and write none of it.

Bicep loads it with `loadJsonContent`, Terraform with `jsondecode(file(...))`; the queues,
their properties and the queue-name app settings are expressions over it. A queue name, job
name or queue setting written into the IaC again fails here, and so does a property given as
a literal. The Terraform expressions are also run by the terraform CLI (when it is on PATH)
against a changed copy of the file, so they are known to follow it.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from function_app.topology import TOPOLOGY_FILE, topology
from tests.infra import stacks

IAC_FILES = sorted(
    [
        *stacks.BICEP_DIR.rglob("*.bicep"),
        *stacks.BICEP_DIR.glob("*.json"),
        *stacks.TERRAFORM_DIR.glob("*.tf"),
        *stacks.TERRAFORM_DIR.glob("*.example"),
    ]
)


def test_no_iac_file_names_a_queue_a_job_or_a_queue_setting() -> None:
    words = {
        word
        for queue in topology().queues
        for word in (queue.name, queue.setting, *queue.job_names)
    }
    assert IAC_FILES
    found = {
        (path.relative_to(stacks.ROOT).as_posix(), word)
        for path in IAC_FILES
        for word in words
        if word in path.read_text(encoding="utf-8")
    }
    assert not found, f"write these in function_app/queues.json only: {sorted(found)}"


def test_bicep_loads_the_topology_file() -> None:
    loaded = stacks.bicep_document("main.bicep")["variables"]["topology"]["value"]
    function = loaded["function"]
    assert function["type"] == "load_json_content"
    assert (stacks.BICEP_DIR / function["parameters"]["file_path"]).resolve() == TOPOLOGY_FILE


def test_terraform_decodes_the_topology_file() -> None:
    (block,) = [
        block
        for path, doc in stacks._tf_documents()
        for block in doc.get("locals", [])
        if "topology" in block
    ]
    expr = block["topology"]
    prefix, suffix = '${jsondecode(file("${path.module}/', '"))}'
    assert expr.startswith(prefix)
    assert expr.endswith(suffix)
    relative = expr.removeprefix(prefix).removesuffix(suffix)
    assert (stacks.TERRAFORM_DIR / relative).resolve() == TOPOLOGY_FILE


def test_queue_properties_are_read_from_the_file_not_written() -> None:
    bicep_queue = stacks.bicep_document("app/servicebus.bicep")["resources"]["queues"]["config"]
    for name, value in bicep_queue["config"]["properties"].items():
        assert isinstance(value, dict), f"servicebus.bicep: {name} is a literal"
    tf_queue = stacks.terraform_resource("azurerm_servicebus_queue", "jobs")
    for name in stacks.QUEUE_PROPERTIES:
        assert str(tf_queue[name]).startswith("${local."), f"main.servicebus.tf: {name}"


@pytest.mark.parametrize("stack", [stacks.bicep, stacks.terraform], ids=["bicep", "tf"])
def test_each_stack_creates_the_files_queues_and_names_each_by_its_setting(stack: Any) -> None:
    built = stack()
    assert built.queue_names == {queue.name for queue in topology().queues}
    for queue in topology().queues:
        assert built.app_settings[queue.setting] == stacks.Setting(queue.name, literal=True)


def _changed_topology() -> dict[str, Any]:
    document = json.loads(TOPOLOGY_FILE.read_text(encoding="utf-8"))
    document["queueProperties"]["MaxDeliveryCount"] = 7
    document["queues"][0]["name"] = "renamed-in-the-file"
    document["queues"].append({"name": "third", "setting": "THIRD_QUEUE", "jobNames": ["x"]})
    return dict(document)


def test_terraform_itself_evaluates_the_topology_locals_from_the_file(tmp_path: Path) -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform CLI not on PATH: the expressions were only parsed")
    # topology.tf reads nothing but the file, so it runs alone, without providers.
    module = tmp_path / "infra" / "terraform"
    module.mkdir(parents=True)
    shutil.copy(stacks.TERRAFORM_DIR / "topology.tf", module)
    (tmp_path / "function_app").mkdir()
    changed = _changed_topology()
    (tmp_path / "function_app" / "queues.json").write_text(json.dumps(changed), "utf-8")
    result = subprocess.run(
        [terraform, "console"],
        input="jsonencode([local.queue_names, local.queue_properties, local.queue_settings])\n",
        capture_output=True,
        text=True,
        cwd=module,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names, properties, settings = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))
    assert names == [queue["name"] for queue in changed["queues"]]
    assert properties == changed["queueProperties"]
    assert settings == {queue["setting"]: queue["name"] for queue in changed["queues"]}
