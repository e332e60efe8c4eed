"""The fault suite's report: each chaos scenario records what it saw (jobs, events, lost,
duplicated, stuck, time to recover) and the pytest run prints one table at its end
(`pytest_terminal_summary` in tests/conftest.py), failing or not."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from _pytest.terminal import TerminalReporter


@dataclass(frozen=True)
class ChaosOutcome:
    scenario: str
    jobs: int
    events: int  # events (or messages) the clients received in all
    lost: int  # in the log but never received
    duplicated: int  # received more than once
    stuck: int  # jobs that never ended
    recover_seconds: float | None  # from the fault to everything ended (None: not timed)


OUTCOMES: list[ChaosOutcome] = []


def client_losses(seen: Sequence[int], log: Sequence[int]) -> tuple[int, int]:
    """(lost, duplicated) of one client's sequence against the job's log."""
    return len(set(log) - set(seen)), len(seen) - len(set(seen))


def record(
    scenario: str,
    *,
    jobs: int,
    clients: Iterable[tuple[Sequence[int], Sequence[int]]] = (),
    stuck: int,
    recover_seconds: float | None,
    events: int | None = None,
    lost: int = 0,
    duplicated: int = 0,
) -> None:
    """Add a scenario's outcome; `clients`: (what a client saw, the job's log) pairs, whose
    losses and repeats add to `lost` and `duplicated`."""
    pairs = list(clients)
    for seen, log in pairs:
        a, b = client_losses(seen, log)
        lost += a
        duplicated += b
    total = events if events is not None else sum(len(seen) for seen, _ in pairs)
    OUTCOMES.append(ChaosOutcome(scenario, jobs, total, lost, duplicated, stuck, recover_seconds))


def print_report(reporter: TerminalReporter) -> None:
    if not OUTCOMES:
        return
    reporter.write_sep("=", "fault suite (chaos) outcomes")
    reporter.write_line(
        f"{'scenario':<74} {'jobs':>5} {'events':>7} {'lost':>5} {'dup':>5} {'stuck':>6}"
        f" {'recover':>9}"
    )
    for o in OUTCOMES:
        recover = "-" if o.recover_seconds is None else f"{o.recover_seconds:.1f} s"
        reporter.write_line(
            f"{o.scenario:<74} {o.jobs:>5} {o.events:>7} {o.lost:>5} {o.duplicated:>5}"
            f" {o.stuck:>6} {recover:>9}"
        )
