"""What a deployment costs per month: jobstream's shared-poller streams beside naive 1-second
polling per viewer and Durable Functions-style status polling (docs/scaling.md explains it).

`python -m bench.cost_model --viewers 1000 --jobs-per-hour 600 --events-per-job 20` prints,
for each of the three ways to show progress: Table transactions per hour, Service Bus
operations per hour, Flex Consumption instances and executions, and a monthly estimate at the
list prices below, then where a Standard Service Bus namespace (1,000 credits/s) or one Table
partition (2,000 entities/s) would bind first. Every input is a flag; the defaults are the
figures `bench.stream_route_bench` measured on this machine kind.

Pure arithmetic (`estimate`), so `tests/unit/bench/test_cost_model.py` checks it by hand.
"""

import argparse
import math
import sys
from dataclasses import dataclass, replace

HOURS_PER_MONTH = 730  # Azure's monthly estimates use 730 hours
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Prices:
    """Pay-as-you-go list prices, USD, East US, looked up 2026-12-07. docs/scaling.md gives
    each one's source and status: the meters, tiers and included amounts follow Microsoft's
    pages; no USD amount could be read on a Microsoft page (marked "unconfirmed" below)."""

    table_per_10k_transactions: float = 0.00036  # GPv2 LRS Table transactions (unconfirmed)
    servicebus_base_per_hour: float = 0.0135  # Standard base charge, ~$9.86/month (unconfirmed)
    servicebus_included_ops: float = 13e6  # per month, in the base charge
    servicebus_ops_tiers: tuple[tuple[float, float], ...] = (
        (100e6, 0.80),  # 13M-100M ops/month: $ per million (tiers confirmed, $ unconfirmed)
        (2_500e6, 0.50),  # 100M-2,500M
        (math.inf, 0.20),  # over 2,500M
    )
    flex_per_gb_second: float = 0.000026  # Flex on demand execution time (Modal's guide)
    flex_per_million_executions: float = 0.40  # (unconfirmed)
    flex_free_gb_seconds: float = 100_000  # monthly free grant, on demand (unconfirmed)
    flex_free_executions: float = 250_000  # (unconfirmed)


@dataclass(frozen=True)
class Workload:
    viewers: int  # open streams (or polling viewers) at any moment
    jobs_per_hour: float
    events_per_job: int
    concurrency: int  # streams one instance holds (the bench: 10,000 on one process)
    job_seconds: float = 60.0  # a job's run time: running jobs = jobs/hour x this / 3600
    instance_memory_gb: float = 2.048  # Flex Consumption instance size (2,048 MB default)
    http_concurrency: int = 16  # Flex default for HTTP triggers: concurrent requests/instance
    poll_request_seconds: float = 0.02  # one status request's run time (polling models)
    status_poll_seconds: float = 10.0  # Durable-style clients poll every Retry-After seconds
    stream_max_age_seconds: float = 600.0  # STREAM_MAX_AGE_SECONDS: a viewer reconnects then
    queues_watched: int = 0  # queues a stream's ?queueName= asks statistics of
    queue_stats_seconds: float = 10.0  # QUEUE_STATS_SECONDS (cached half of it per instance)


@dataclass(frozen=True)
class Measured:
    """From bench.stream_route_bench (this machine kind, one process)."""

    hub_reads_per_job_second: float = 8.5  # one poller per watched job per instance
    # Each event costs the worker: read the job row, write event + job row (one batch), and
    # copy the event into its owner's feed.
    writes_per_event: float = 3.0
    transactions_per_job_create: float = 1.0  # job row + `queued` event, one batch
    # The job row and the re-read from the resume point: an upper bound (an open on an
    # instance that already follows the job reads neither unless behind the shared ring).
    reads_per_stream_open: float = 2.0
    reads_per_status_poll: float = 1.0  # GET jobs/{id}: one point read
    durable_reads_per_status_poll: float = 2.0  # instance row + history query (Durable)
    servicebus_ops_per_job: float = 3.0  # send, receive (peek-lock), complete
    cpu_us_per_delivered_event: float = 37.0
    kib_per_stream: float = 19.6  # RSS per open stream at 10,000 (second round)


@dataclass(frozen=True)
class Estimate:
    model: str
    table_transactions_per_hour: float
    servicebus_ops_per_hour: float
    servicebus_credits_per_second: float
    instances: int
    executions_per_hour: float
    gb_seconds_per_hour: float
    busiest_partition_per_second: float  # the Table partition of one watched job
    monthly_usd: float


def running_jobs(w: Workload) -> float:
    return w.jobs_per_hour * w.job_seconds / SECONDS_PER_HOUR


def servicebus_monthly(ops_per_month: float, p: Prices) -> float:
    cost = p.servicebus_base_per_hour * HOURS_PER_MONTH
    done = p.servicebus_included_ops
    for upper, per_million in p.servicebus_ops_tiers:
        if ops_per_month <= done:
            break
        in_tier = min(ops_per_month, upper) - done
        cost += in_tier / 1e6 * per_million
        done = upper
    return cost


def monthly(
    table_per_hour: float,
    sb_ops_per_hour: float,
    executions_per_hour: float,
    gb_seconds_per_hour: float,
    p: Prices,
) -> float:
    table = table_per_hour * HOURS_PER_MONTH / 10_000 * p.table_per_10k_transactions
    servicebus = servicebus_monthly(sb_ops_per_hour * HOURS_PER_MONTH, p)
    gb_s = max(0.0, gb_seconds_per_hour * HOURS_PER_MONTH - p.flex_free_gb_seconds)
    executions = max(0.0, executions_per_hour * HOURS_PER_MONTH - p.flex_free_executions)
    compute = gb_s * p.flex_per_gb_second + executions / 1e6 * p.flex_per_million_executions
    return table + servicebus + compute


def job_costs(w: Workload, m: Measured) -> tuple[float, float, float]:
    """What every model pays to run the jobs: Table writes/hour, SB ops/hour, SB credits/s."""
    writes = w.jobs_per_hour * (
        m.transactions_per_job_create + w.events_per_job * m.writes_per_event
    )
    ops = w.jobs_per_hour * m.servicebus_ops_per_job
    return writes, ops, ops / SECONDS_PER_HOUR  # send/receive/complete: 1 credit each


def hub(w: Workload, m: Measured, p: Prices) -> Estimate:
    """Our streams: one poller per (watched job, instance), however many viewers."""
    writes, sb_ops, credits = job_costs(w, m)
    instances = math.ceil(w.viewers / w.concurrency) if w.viewers else 0
    jobs = running_jobs(w)
    viewers_per_job = w.viewers / jobs if jobs else 0.0
    # A job's viewers spread over the instances: each instance that holds one polls it.
    instances_per_job = min(instances, max(1.0, viewers_per_job)) if w.viewers else 0.0
    polls = jobs * instances_per_job * m.hub_reads_per_job_second * SECONDS_PER_HOUR
    opens = w.viewers * SECONDS_PER_HOUR / w.stream_max_age_seconds  # reconnects at max age
    table = writes + polls + opens * m.reads_per_stream_open
    # Queue statistics: a management read (10 credits) per queue per instance every half period.
    stats_per_second = instances * w.queues_watched / (w.queue_stats_seconds / 2)
    sb_ops += stats_per_second * SECONDS_PER_HOUR
    credits += stats_per_second * 10
    gb_s = instances * w.instance_memory_gb * SECONDS_PER_HOUR  # a stream keeps it executing
    return Estimate(
        model="jobstream streams (shared poller)",
        table_transactions_per_hour=table,
        servicebus_ops_per_hour=sb_ops,
        servicebus_credits_per_second=credits,
        instances=instances,
        executions_per_hour=opens,
        gb_seconds_per_hour=gb_s,
        busiest_partition_per_second=instances_per_job * m.hub_reads_per_job_second,
        monthly_usd=monthly(table, sb_ops, opens, gb_s, p),
    )


def polling(
    w: Workload, m: Measured, p: Prices, *, every: float, reads: float, model: str
) -> Estimate:
    """Every viewer asks for its job's status every `every` seconds (one execution each)."""
    writes, sb_ops, credits = job_costs(w, m)
    requests_per_second = w.viewers / every
    busy = requests_per_second * w.poll_request_seconds  # requests in flight at any moment
    instances = math.ceil(busy / w.http_concurrency) if w.viewers else 0
    executions = requests_per_second * SECONDS_PER_HOUR
    table = writes + executions * reads
    gb_s = instances * w.instance_memory_gb * SECONDS_PER_HOUR
    jobs = running_jobs(w)
    per_job = (requests_per_second / jobs if jobs else 0.0) * reads
    return Estimate(
        model=model,
        table_transactions_per_hour=table,
        servicebus_ops_per_hour=sb_ops,
        servicebus_credits_per_second=credits,
        instances=instances,
        executions_per_hour=executions,
        gb_seconds_per_hour=gb_s,
        busiest_partition_per_second=per_job,
        monthly_usd=monthly(table, sb_ops, executions, gb_s, p),
    )


def estimate(w: Workload, m: Measured = Measured(), p: Prices = Prices()) -> list[Estimate]:
    return [
        hub(w, m, p),
        polling(w, m, p, every=1.0, reads=m.reads_per_status_poll, model="naive 1 s polling"),
        polling(
            w,
            m,
            p,
            every=w.status_poll_seconds,
            reads=m.durable_reads_per_status_poll,
            model=f"Durable-style status polling ({w.status_poll_seconds:g} s)",
        ),
    ]


SERVICEBUS_STANDARD_CREDITS = 1_000  # per second per namespace (1 per send/receive/complete)
TABLE_PARTITION_ENTITIES = 2_000  # per second, one partition (a job's events and row)
TABLE_ACCOUNT_TRANSACTIONS = 20_000  # per second, one storage account


def limits(e: Estimate) -> list[str]:
    notes = []
    credits = e.servicebus_credits_per_second
    if credits > SERVICEBUS_STANDARD_CREDITS:
        notes.append(f"Service Bus Standard throttles: {credits:,.0f} credits/s > 1,000")
    if e.busiest_partition_per_second > TABLE_PARTITION_ENTITIES:
        notes.append(f"one job's Table partition: {e.busiest_partition_per_second:,.0f}/s > 2,000")
    account = e.table_transactions_per_hour / SECONDS_PER_HOUR
    if account > TABLE_ACCOUNT_TRANSACTIONS:
        notes.append(f"the storage account: {account:,.0f} transactions/s > 20,000")
    return notes


def print_estimates(w: Workload, estimates: list[Estimate]) -> None:
    print(
        f"{w.viewers:,} viewers, {w.jobs_per_hour:,.0f} jobs/hour x {w.events_per_job} events "
        f"({running_jobs(w):,.1f} running at once), {w.concurrency:,} streams per instance"
    )
    for e in estimates:
        print(
            f"  {e.model:<38} table {e.table_transactions_per_hour:>13,.0f}/h  "
            f"service bus {e.servicebus_ops_per_hour:>9,.0f} ops/h  "
            f"instances {e.instances:>4}  executions {e.executions_per_hour:>11,.0f}/h  "
            f"${e.monthly_usd:>10,.2f}/month"
        )
        for note in limits(e):
            print(f"      binds first: {note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cost_model", description=__doc__)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--jobs-per-hour", type=float, default=600)
    parser.add_argument("--events-per-job", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10_000, help="streams per instance")
    parser.add_argument("--job-seconds", type=float, default=60.0)
    parser.add_argument("--status-poll-seconds", type=float, default=10.0)
    parser.add_argument("--queues-watched", type=int, default=0)
    args = parser.parse_args(argv or [])
    workload = Workload(
        viewers=args.viewers,
        jobs_per_hour=args.jobs_per_hour,
        events_per_job=args.events_per_job,
        concurrency=args.concurrency,
        job_seconds=args.job_seconds,
        status_poll_seconds=args.status_poll_seconds,
        queues_watched=args.queues_watched,
    )
    print_estimates(workload, estimate(workload))
    # The same workload at 10x and 100x the viewers: what grows with them, what does not.
    for factor in (10, 100):
        bigger = replace(workload, viewers=workload.viewers * factor)
        print()
        print_estimates(bigger, estimate(bigger))


if __name__ == "__main__":
    main(sys.argv[1:])
