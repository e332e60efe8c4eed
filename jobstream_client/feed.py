"""Follow every job of the caller on one stream (the caller's feed, `GET /api/events`).

`python -m jobstream_client follow-all --api http://127.0.0.1:7071/api/v1` prints one line
per job event of all your jobs (`--json`: the event's JSON) until Ctrl-C, or until a limit:
`--count N` events, or `--until-idle SECONDS` with no job of yours running and no job event
for that long. `--since EPOCH_MS` starts there (an event's `epochMs`; `1` is as far back as
the feed keeps) instead of now. The stream is resumed with Last-Event-ID whenever the
server ends it (its maximum age) or the connection drops.

Exit status: 0 a limit was reached, 2 the API refused the request, 3 the feed could not be
followed, 130 interrupted (Ctrl-C).
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from jobstream_client.api import ApiError, _data
from jobstream_client.sse import SseParser

TERMINAL_TYPES = {"completed", "failed"}
MAX_FAILURES = 5
DEFAULT_READ_TIMEOUT = 60.0  # the server pings every 15 s by default


def feed_url(api: str) -> str:
    """The feed beside the versioned API: `http://host/api/v1` -> `http://host/api/events`."""
    return str(httpx.URL(f"{api.rstrip('/')}/").join("../events"))


def describe_event(event: Mapping[str, Any]) -> str:
    """One `job` event as one line: when, which job, what happened, how far, the message."""
    progress = event.get("progress") or {}
    percent = progress.get("percent", 0) if isinstance(progress, Mapping) else 0
    line = (
        f"{event.get('timestamp')} {event.get('jobId')} {event.get('jobName')} "
        f"{event.get('type')} {percent:>3}% {event.get('message') or ''}"
    ).rstrip()
    if event.get("error"):
        code = f" ({event['errorCode']})" if event.get("errorCode") else ""
        line += f" · error: {event['error']}{code}"
    return line


@dataclass
class Follower:
    """What a follow-all run has seen: the last sequence per job, which jobs still run."""

    out: TextIO
    as_json: bool = False
    count: int | None = None
    until_idle: float | None = None
    printed: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    quiet_since: float = field(default_factory=time.monotonic)

    def job(self, event: Mapping[str, Any]) -> None:
        job_id = str(event.get("jobId"))
        sequence = int(event.get("sequence") or 0)
        if sequence and sequence <= self.seen.get(job_id, 0):
            return  # seen already (a resume repeats nothing, but be sure)
        if sequence:
            self.seen[job_id] = sequence
        if event.get("type") in TERMINAL_TYPES:
            self.running.discard(job_id)
        else:
            self.running.add(job_id)
        self.quiet_since = time.monotonic()
        self.printed += 1
        line = json.dumps(event, separators=(",", ":")) if self.as_json else describe_event(event)
        print(line, file=self.out, flush=True)

    def done(self) -> bool:
        if self.count is not None and self.printed >= self.count:
            return True
        if self.until_idle is None or self.running:
            return False
        return time.monotonic() - self.quiet_since >= self.until_idle


def follow_all(
    client: httpx.Client,
    url: str,
    auth: Mapping[str, str],
    follower: Follower,
    since: str | None = None,
) -> None:
    """Read the feed until `follower` is done, resuming with Last-Event-ID after each end."""
    parser = SseParser()
    failures = 0
    read_timeout = DEFAULT_READ_TIMEOUT
    if follower.until_idle is not None:
        read_timeout = max(0.5, min(read_timeout, follower.until_idle))
    while not follower.done():
        headers = {"Accept": "text/event-stream", **auth}
        params = {}
        if parser.last_event_id:
            headers["Last-Event-ID"] = parser.last_event_id
        elif since:
            params["since"] = since
        try:
            with client.stream(
                "GET",
                url,
                params=params,
                headers=headers,
                timeout=httpx.Timeout(30.0, read=read_timeout),
            ) as response:
                if not response.is_success:
                    response.read()
                    _data(response)  # raises ApiError with the API's message
                failures = 0
                for event in parser.events(response.iter_lines()):
                    if event.event == "hello":
                        hello = json.loads(event.data)
                        print(
                            f"connected to {url} ({hello.get('connectionId')})",
                            file=sys.stderr,
                            flush=True,
                        )
                        if not follower.seen:
                            follower.quiet_since = time.monotonic()
                    elif event.event == "job":
                        follower.job(json.loads(event.data))
                    if follower.done():
                        return
        except httpx.ReadTimeout:
            continue  # nothing for a while: the idle check above decides; else resume
        except httpx.TransportError:
            failures += 1
            if failures > MAX_FAILURES:
                raise
        time.sleep((parser.retry_ms or 2000) / 1000 if failures else 0.05)


def follow_all_main(argv: list[str]) -> int:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="python -m jobstream_client follow-all",
        description=doc.splitlines()[0],
    )
    parser.add_argument("--api", default="http://127.0.0.1:7071/api/v1", help="API base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("JOBSTREAM_TOKEN"),
        help="a bearer JWT when the API runs with AUTH_MODE=jwt (default: $JOBSTREAM_TOKEN)",
    )
    parser.add_argument(
        "--since", default=None, metavar="EPOCH_MS", help="start after this epochMs, not now"
    )
    parser.add_argument(
        "--until-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop once no job is running and no job event came for SECONDS",
    )
    parser.add_argument(
        "--count", type=int, default=None, metavar="N", help="stop after N job events"
    )
    parser.add_argument("--json", action="store_true", help="print each event's JSON")
    args = parser.parse_args(argv)
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.until_idle is not None and args.until_idle <= 0:
        parser.error("--until-idle must be more than 0")
    api = str(args.api).rstrip("/")
    auth = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    follower = Follower(sys.stdout, args.json, args.count, args.until_idle)
    url = feed_url(api)
    try:
        with httpx.Client() as client:
            follow_all(client, url, auth, follower, args.since)
    except KeyboardInterrupt:
        return 130
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"error: cannot follow {url}: {exc}", file=sys.stderr)
        return 3
    print(f"{follower.printed} job events of {len(follower.seen)} jobs", file=sys.stderr)
    return 0
