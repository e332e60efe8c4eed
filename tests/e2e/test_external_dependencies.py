"""`python -m devstack --no-azurite --no-servicebus`: the host runs the app against
dependencies it did not start, with their settings used exactly as given (the way it runs
against real Azure). Here the "remote" ones are an Azurite and an emulator this test owns."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from devstack.azurite import AzuriteProcess, ensure_storage_sync, start_azurite
from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from tests.e2e.conftest import Api
from tests.support.servicebus import project_emulator_config
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class External:
    stack: LocalStack
    azurite: AzuriteProcess
    emulator: EmulatorProcess
    state: dict[str, object]


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[External]:
    workdir = tmp_path_factory.mktemp("external")
    azurite = start_azurite(workdir / "azurite", log_path=workdir / "azurite.log")
    emulator = start_emulator(
        project_emulator_config(workdir),
        log_path=workdir / "emulator.log",
    )
    try:
        # In Azure the infrastructure creates these; the stack does not touch what it did
        # not start.
        ensure_storage_sync(azurite.connection_string, "uploads", "jobs")
        settings = {
            "STORAGE_CONNECTION_STRING": azurite.connection_string,
            "AzureWebJobsStorage": azurite.connection_string,
            "ServiceBusConnection": emulator.connection_string,
            "SERVICEBUS_EMULATOR_ADMIN_URL": emulator.admin_url,
        }
        stack_dir = workdir / "stack"
        stack_dir.mkdir()
        with launch_stack(
            stack_dir,
            settings,
            extra_args=["--no-azurite", "--no-servicebus"],
        ) as stack:
            state = json.loads((stack_dir / "state.json").read_text(encoding="utf-8"))
            yield External(stack, azurite, emulator, state)
    finally:
        emulator.stop()
        azurite.stop()


def test_the_stack_starts_no_emulator_of_its_own(external: External) -> None:
    assert external.state.get("azuritePid") is None
    assert external.state.get("serviceBusPid") is None
    assert not (external.stack.log_path.parent / "azurite").exists()


async def test_a_job_runs_against_the_given_dependencies(external: External) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        api = Api(external.stack, http, "ext-owner")
        upload = await api.upload("given.txt", b"counted by the given stack", "text/plain")
        assert upload["uploadUrl"].startswith(external.azurite.blob_endpoint)
        response = await api.enqueue(
            "document-analysis",
            "analyze-document",
            {"blobName": upload["blobName"], "fileName": "given.txt"},
        )
        assert response.status_code == 202, response.text

        done = await api.wait_terminal(response.json()["data"]["jobId"])

    assert done["status"] == "completed", done


def test_the_log_names_no_setting_it_rewired(external: External) -> None:
    assert "settings pointed at the local emulators: none" in external.stack.log_path.read_text()
