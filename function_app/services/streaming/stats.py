"""What the hub tells about its open streams (`StreamHub.stats_for`, `StreamHub.stats`)."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ConnectionStats:
    connection_id: str
    job_id: str
    owner: str
    connected_at: datetime
    events_sent: int


@dataclass(frozen=True)
class HubStats:
    total_connections: int
    total_job_subscriptions: int
    connections: tuple[ConnectionStats, ...]
    # Event-log queries made since the hub started: by pollers, and by viewers re-reading.
    poll_queries: int
    reread_queries: int
