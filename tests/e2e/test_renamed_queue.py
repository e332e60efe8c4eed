"""A queue renamed by its app setting, through the whole local stack: devstack creates the
emulator's queue under the new name, the triggers bind it (`%SETTING%`), the catalog lists it,
and a job sent to it runs; the file's name is no queue of this deployment."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from function_app.topology import topology
from tests.e2e.conftest import AnonymousApi, Api
from tests.support.stack import LocalStack, launch_default_stack

pytestmark = pytest.mark.e2e

RENAMED = topology().queues[-1]  # a queue whose job name takes a plain-text file
NEW_NAME = f"{RENAMED.name}-eu"


@pytest.fixture(scope="module")
def renamed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("renamed-queue")
    with launch_default_stack(workdir, {RENAMED.setting: NEW_NAME}) as stack:
        yield stack


@pytest.fixture
async def anonymous(renamed_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield AnonymousApi(renamed_stack, http, "anonymous")


async def test_the_emulator_and_the_catalog_have_the_new_name(anonymous: Api) -> None:
    admin = await anonymous.http.get(f"{anonymous.stack.servicebus_admin_url}/queues")
    created = {str(name) for name in admin.json()}
    assert NEW_NAME in created
    assert RENAMED.name not in created
    catalog = await anonymous.http.get(f"{anonymous.stack.api}/queues")
    assert catalog.json()["data"]["queues"] == [
        {"queueName": NEW_NAME if q is RENAMED else q.name, "jobNames": list(q.job_names)}
        for q in topology().queues
    ]


async def test_a_job_sent_to_the_renamed_queue_runs_and_the_old_name_is_refused(
    anonymous: Api,
) -> None:
    job_name = RENAMED.job_names[0]
    job = await anonymous.submit(NEW_NAME, job_name, "a.txt", b"renamed queue")
    done = await anonymous.wait_terminal(job["jobId"])
    assert done["status"] == "completed", done
    assert done["queueName"] == NEW_NAME
    old = await anonymous.enqueue(RENAMED.name, job_name, {"blobName": "x", "fileName": "a.txt"})
    assert old.status_code == 400, old.text
    assert old.json()["error"]["code"] == "unknown_queue"
