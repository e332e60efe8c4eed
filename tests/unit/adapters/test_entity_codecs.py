"""The flat entity codec and the rows it writes: the same properties the hand-written codecs
of open jobs, idempotency claims and queue tallies wrote, so stored rows still read back."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from function_app.adapters.table_storage.entity_fields import FlatCodec
from function_app.adapters.table_storage.idempotency_keys import CLAIMS
from function_app.adapters.table_storage.open_jobs import entry_from_entity, entry_to_entity
from function_app.adapters.table_storage.queue_counters import tally_from_entity, tally_to_entity
from function_app.domain.idempotency import KeyClaim
from function_app.domain.queue_overview import QueueTally
from function_app.domain.sweeping import OpenJob

AT = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def test_an_open_job_is_stored_under_its_id_with_camel_case_properties() -> None:
    entry = OpenJob("job-1", "analyze-resume", AT, sent=True)
    entity = entry_to_entity(entry)
    assert entity == {
        "PartitionKey": entity["PartitionKey"],
        "RowKey": "job-1",
        "queueName": "analyze-resume",
        "recordedAt": AT,
        "sent": True,
    }
    assert entity["PartitionKey"].startswith("open-")
    assert entry_from_entity(entity) == entry


def test_a_claim_round_trips_and_a_naive_time_reads_as_utc() -> None:
    claim = KeyClaim("job-2", confirmed=False, lease_until=AT)
    entity = CLAIMS.to_entity("idem-p", "r", claim)
    assert entity == {
        "PartitionKey": "idem-p",
        "RowKey": "r",
        "jobId": "job-2",
        "confirmed": False,
        "leaseUntil": AT,
    }
    naive = {**entity, "leaseUntil": AT.replace(tzinfo=None)}
    assert CLAIMS.from_entity(naive) == claim


def test_a_tally_stores_its_seconds_as_a_float_and_absent_counts_read_as_zero() -> None:
    entity = tally_to_entity("w|q", QueueTally(completed=2, seconds=3, timed=1))
    assert isinstance(entity["seconds"], float)
    assert (entity["RowKey"], entity["completed"], entity["seconds"]) == ("w|q", 2, 3.0)
    assert tally_from_entity({"PartitionKey": "counters", "RowKey": "x", "failed": 4}) == (
        QueueTally(failed=4)
    )
    assert tally_from_entity(None) == QueueTally()


@dataclass(frozen=True)
class _Record:
    name: str
    count: int
    note: str = "none"


def test_a_required_property_missing_from_the_row_is_an_error() -> None:
    codec = FlatCodec(_Record)
    assert codec.from_entity({"name": "a", "count": "3"}) == _Record("a", 3)
    with pytest.raises(ValueError, match="count"):
        codec.from_entity({"name": "a"})


@dataclass(frozen=True)
class _Nested:
    tags: list[str]


def test_a_field_that_is_not_one_property_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="tags"):
        FlatCodec(_Nested)
