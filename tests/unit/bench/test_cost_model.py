"""The cost model's arithmetic, against figures worked out by hand (docs/scaling.md)."""

import pytest

from bench.cost_model import (
    HOURS_PER_MONTH,
    Measured,
    Prices,
    Workload,
    estimate,
    limits,
    servicebus_monthly,
)

# 1,000 viewers of 10 running jobs (600 an hour, 60 s each), 20 events a job, one instance.
SMALL = Workload(viewers=1000, jobs_per_hour=600, events_per_job=20, concurrency=10_000)
PRICES = Prices()
MEASURED = Measured()


def test_the_shared_poller_reads_per_watched_job_not_per_viewer() -> None:
    hub, _, _ = estimate(SMALL, MEASURED, PRICES)
    writes = 600 * (1 + 20 * 3)  # 36,600: a batch per job create, three writes per event
    polls = 10 * 1 * 8.5 * 3600  # 10 jobs x 1 instance x 8.5 reads/s: 306,000
    opens = 1000 * 3600 / 600 * 2  # a reconnect per viewer every 600 s, 2 reads: 12,000
    assert hub.table_transactions_per_hour == pytest.approx(writes + polls + opens)
    assert hub.table_transactions_per_hour == pytest.approx(354_600)
    assert hub.instances == 1
    assert hub.executions_per_hour == pytest.approx(6000)
    assert hub.servicebus_ops_per_hour == pytest.approx(1800)  # 600 jobs x 3 operations


def test_the_monthly_estimate_adds_table_service_bus_and_flex_by_hand() -> None:
    hub, _, _ = estimate(SMALL, MEASURED, PRICES)
    table = 354_600 * 730 / 10_000 * 0.00036  # $9.33
    servicebus = 0.0135 * 730  # 1.3M operations a month: inside the 13M included
    gb_seconds = 2.048 * 3600 * 730 - 100_000  # one instance always executing, less the grant
    executions = 6000 * 730 - 250_000
    expected = table + servicebus + gb_seconds * 0.000026 + executions / 1e6 * 0.40
    assert hub.monthly_usd == pytest.approx(expected)
    assert hub.monthly_usd == pytest.approx(158.16, abs=0.01)


def test_naive_polling_reads_once_per_viewer_per_second() -> None:
    _, naive, _ = estimate(SMALL, MEASURED, PRICES)
    assert naive.executions_per_hour == pytest.approx(3_600_000)
    assert naive.table_transactions_per_hour == pytest.approx(36_600 + 3_600_000)
    assert naive.instances == 2  # 1,000 req/s x 20 ms = 20 in flight, 16 per instance


def test_durable_style_polling_reads_twice_per_poll_every_ten_seconds() -> None:
    _, _, durable = estimate(SMALL, MEASURED, PRICES)
    assert durable.executions_per_hour == pytest.approx(360_000)
    assert durable.table_transactions_per_hour == pytest.approx(36_600 + 720_000)


def test_service_bus_operations_are_billed_by_tier_after_the_included_ones() -> None:
    base = 0.0135 * HOURS_PER_MONTH
    assert servicebus_monthly(10e6, PRICES) == pytest.approx(base)
    assert servicebus_monthly(200e6, PRICES) == pytest.approx(base + 87 * 0.80 + 100 * 0.50)
    assert servicebus_monthly(3_000e6, PRICES) == pytest.approx(
        base + 87 * 0.80 + 2_400 * 0.50 + 500 * 0.20
    )


def test_a_job_watched_from_many_instances_binds_its_table_partition_first() -> None:
    crowd = Workload(viewers=3_000_000, jobs_per_hour=60, events_per_job=20, concurrency=10_000)
    hub, _, _ = estimate(crowd, MEASURED, PRICES)
    assert hub.instances == 300
    assert hub.busiest_partition_per_second == pytest.approx(300 * 8.5)
    assert any("partition" in note for note in limits(hub))


def test_queue_statistics_spend_service_bus_credits_per_instance() -> None:
    # 2,000 instances x 1 queue, a management read (10 credits) every 5 s: 4,000 credits/s.
    busy = Workload(
        viewers=20_000_000, jobs_per_hour=60, events_per_job=1, concurrency=10_000, queues_watched=1
    )
    hub, _, _ = estimate(busy, MEASURED, PRICES)
    assert hub.servicebus_credits_per_second == pytest.approx(60 * 3 / 3600 + 2000 / 5 * 10)
    assert any("Service Bus" in note for note in limits(hub))
