"""Live job streams: one shared poller per job, many viewers, nothing lost on reconnect.

- `hub.py`: `StreamHub` (who may watch which job from where, what each viewer is sent, the
  stream statistics a caller may see) and the `JobStream` it opens.
- `feed.py`: one job's `JobFeed`, its single poller and the ring of recent events its
  viewers share; a viewer behind the ring re-reads the log, so memory per viewer is
  constant and nothing is lost or repeated.
- `feed_hub.py`, `owner_feed.py`: a caller's feed (every event of all their jobs, one
  stream): `FeedHub` and each owner's `OwnerFeed`, its one poller and ring.
- `pollers.py`: what both hubs share: `Subscriptions` (one poller per key, started by its
  first viewer, cancelled by its last) and `Polling` (settings, query counts, clocks);
  `waiting.py`: a viewer's `Deadlines` (max age, heartbeat, periodic extra).
- `items.py`: what a stream yields (`Connected`, `Update`, `Heartbeat`, `QueueSnapshot`,
  `TimedOut`), and a long-poll answer (`EventPage`, from `StreamHub.poll`: a viewer of the
  same feed for as long as it waits; `long_poll.py`: how it waits). `stats.py`: `HubStats`.
  `config.py`: `StreamConfig`.

Pure: depends on the EventLog and QueueStats ports, a Clock for timestamps, and a monotonic
clock with its sleep for every interval (polls, heartbeats, max age), injectable so tests
run on virtual time; no Azure, no web framework.
"""

from function_app.services.streaming.config import StreamConfig
from function_app.services.streaming.feed_hub import FeedHub, FeedHubStats, FeedStream
from function_app.services.streaming.hub import JobStream, StreamHub
from function_app.services.streaming.items import (
    Connected,
    EventPage,
    FeedConnected,
    FeedItem,
    FeedTimedOut,
    FeedUpdate,
    Heartbeat,
    QueueSnapshot,
    StreamItem,
    Tick,
    TimedOut,
    Update,
)
from function_app.services.streaming.stats import ConnectionStats, HubStats

__all__ = [
    "Connected",
    "ConnectionStats",
    "EventPage",
    "FeedConnected",
    "FeedHub",
    "FeedHubStats",
    "FeedItem",
    "FeedStream",
    "FeedTimedOut",
    "FeedUpdate",
    "Heartbeat",
    "HubStats",
    "JobStream",
    "QueueSnapshot",
    "StreamConfig",
    "StreamHub",
    "StreamItem",
    "Tick",
    "TimedOut",
    "Update",
]
