"""How a stream behaves: its intervals, its limits and the ring each job's viewers share."""

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamConfig:
    max_age_seconds: float = 600.0
    heartbeat_seconds: float = 15.0
    queue_stats_seconds: float = 5.0
    # Poll every `fast_poll_seconds` while the job changed within `active_window_seconds`,
    # then back off (doubling) to `idle_poll_seconds`.
    fast_poll_seconds: float = 0.1
    idle_poll_seconds: float = 1.0
    active_window_seconds: float = 5.0
    # Events kept per job for its viewers; a viewer further behind re-reads the log.
    ring_size: int = 256
    page_size: int = 100
    # The reconnection delay suggested to clients (`retry:`).
    retry_ms: int = 2000
    # The long-poll route: the longest one request waits for a new event (`StreamHub.poll`).
    long_poll_wait_seconds: float = 25.0
    # Caller feeds (`feed_hub.py`): an entry is passed on once it is `feed_settle_seconds`
    # old, so writers racing for neighbouring positions land first; entries that land later
    # still (up to `feed_late_window_seconds` behind) are found by a key-only scan every
    # `feed_late_scan_seconds` and sent late. A reader repairs its owner's feed (events a
    # crashed writer did not copy) every `feed_repair_seconds`. `?since=` reaches back at
    # most `feed_replay_seconds`.
    feed_settle_seconds: float = 0.2
    feed_late_window_seconds: float = 5.0
    feed_late_scan_seconds: float = 1.0
    feed_repair_seconds: float = 30.0
    feed_replay_seconds: float = 3600.0
