"""`SecretStore` on the jobs table: small secrets the app generates at run time.

| PartitionKey | RowKey          | what          |
|--------------|-----------------|---------------|
| `config`     | `<secret name>` | `value` bytes |

The first instance to store a secret wins; the others read the winner's value.
"""

import re
from collections.abc import Callable

from function_app.adapters.table_storage.rows import Decision, Entity, TableRows, decide_and_write

CONFIG_PARTITION = "config"
MAX_CREATE_ATTEMPTS = 4
_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class TableSecrets:
    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes:
        """The secret `name`; the first caller's `factory()` value wins for everyone."""
        if not _SECRET_NAME.match(name):
            raise ValueError(f"bad secret name {name!r}")

        def keep_or_create(existing: Entity | None) -> Decision[bytes]:
            if existing is not None:
                return Decision(bytes(existing["value"]))
            value = factory()
            row = {"PartitionKey": CONFIG_PARTITION, "RowKey": name, "value": value}
            return Decision(value, lambda: self._rows.insert_if_absent(row, "store secret"))

        return await decide_and_write(
            lambda: self._rows.get(CONFIG_PARTITION, name),
            keep_or_create,
            attempts=MAX_CREATE_ATTEMPTS,
            what=f"secret {name!r}",
        )
