"""Contract fixtures: each port's implementations, the real adapter (Azurite) and the fake.

Every contract test runs the same assertions against each implementation, so the fakes the
unit tests rely on behave like the real thing.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devstack.azurite import AzuriteProcess, ensure_storage
from function_app.adapters.table_event_log import TableEventLog


@pytest.fixture(scope="session")
async def contract_table(azurite: AzuriteProcess) -> str:
    name = f"contract{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, "uploads", name)
    return name


@pytest.fixture
async def table_log(azurite: AzuriteProcess, contract_table: str) -> AsyncIterator[TableEventLog]:
    log = TableEventLog.from_connection_string(azurite.connection_string, contract_table)
    yield log
    await log.close()


# Each contract test takes one of these and runs once per implementation listed.
EVENT_LOGS = ["table_log"]


@pytest.fixture(params=EVENT_LOGS)
def event_log(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


IDEMPOTENCY_KEYS = ["table_log"]
SECRET_STORES = ["table_log"]


@pytest.fixture(params=IDEMPOTENCY_KEYS)
def idempotency_keys(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=SECRET_STORES)
def secret_store(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)
