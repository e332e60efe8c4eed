"""Follow one job's stream to its end with httpx-sse, resuming across reconnects.

    JOBSTREAM_API=http://127.0.0.1:7071/api/v1 JOB_ID=... STREAM_TOKEN=... \\
        python follow_httpx_sse.py

Prints each `job_update` as one JSON line. Exit 0: completed (or already finished and seen),
1: failed or cancelled, 2: refused (401 token_expired, 404, ...). httpx-sse parses the stream;
it does not reconnect, resume or read status codes: this loop does.
"""

import json
import os
import sys
import time

import httpx
from httpx_sse import connect_sse

API = os.environ.get("JOBSTREAM_API", "http://127.0.0.1:7071/api/v1")
JOB_ID = os.environ["JOB_ID"]
STREAM_TOKEN = os.environ["STREAM_TOKEN"]
TERMINAL = {"completed", "failed", "cancelled"}


def follow(last_event_id: str | None = None) -> int:
    retry_seconds = 2.0
    with httpx.Client(timeout=httpx.Timeout(10.0, read=60.0)) as http:
        while True:
            headers = {"Authorization": f"Bearer {STREAM_TOKEN}"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id  # resume after the last event seen
            with connect_sse(http, "GET", f"{API}/jobs/{JOB_ID}/stream", headers=headers) as source:
                response = source.response
                if response.status_code == 204:  # finished, and everything was seen: stop
                    print("the job has finished: nothing more to read", file=sys.stderr)
                    return 0
                if response.status_code == 429:  # too many open streams: wait, then retry
                    wait = float(response.headers.get("Retry-After", "5"))
                    print(f"throttled: retrying in {wait:g} s", file=sys.stderr)
                    time.sleep(wait)
                    continue
                if response.status_code != 200:  # 401 token_expired, 404: retrying cannot help
                    response.read()
                    print(f"refused: {response.status_code} {response.text}", file=sys.stderr)
                    return 2
                for event in source.iter_sse():
                    if event.retry is not None:
                        retry_seconds = event.retry / 1000  # the server's `retry:` hint
                    if event.event == "job_update":
                        last_event_id = event.id
                        update = json.loads(event.data)
                        print(json.dumps(update), flush=True)
                        if update["status"] in TERMINAL:
                            return 0 if update["status"] == "completed" else 1
                    elif event.event == "timeout":  # max age reached: the server closes next
                        print(f"stream timed out at {last_event_id}: resuming", file=sys.stderr)
            # The server closed the stream (max age or a network cut): reconnect and resume.
            time.sleep(retry_seconds)


if __name__ == "__main__":
    sys.exit(follow(os.environ.get("LAST_EVENT_ID")))
