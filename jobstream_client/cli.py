"""Upload a file through a presigned URL, start a job, and follow its progress until the end.

The job names and the queue each goes to are the API's (`GET /queues`): `--job` is checked
against them, and without it the first job name listed is run.
`python -m jobstream_client follow-all` follows every job of the caller instead (one line
per job event, from the caller's feed: `jobstream_client.feed`).

When the job completes, a short summary of its result is printed (the resume's score and the
criteria that cost the most points, or the document's key figures); `--json` prints the raw
result instead. Progress goes to stderr, the result to stdout.

Exit status: 0 completed, 1 failed, 2 bad usage or the API refused a request, 3 the stream
could not be followed, 4 cancelled.
"""

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from jobstream_client.api import ApiError, _data
from jobstream_client.feed import follow_all_main
from jobstream_client.progress import ProgressBar, describe
from jobstream_client.sse import SseParser
from jobstream_client.summary import human_size, summary_lines

TERMINAL = {"completed", "failed", "cancelled"}
CHUNK = 64 * 1024
mimetypes.add_type("text/markdown", ".md")


def job_queues(client: httpx.Client, api: str) -> dict[str, str]:
    """Job name -> the queue it goes to, in the API's order, from its catalog (`GET /queues`,
    public: no token is sent)."""
    catalog = _data(client.get(f"{api}/queues"))
    return {
        str(job): str(entry["queueName"])
        for entry in catalog.get("queues", [])
        for job in entry.get("jobNames", [])
    }


def _chunks(path: Path, bar: ProgressBar) -> Iterator[bytes]:
    size = path.stat().st_size or 1
    sent = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sent += len(chunk)
            bar.show(100 * sent / size, f"{human_size(sent)} / {human_size(size)}")
            yield chunk


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex), declared at presign so the worker verifies the bytes it read."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def upload(client: httpx.Client, path: Path, api: str, auth: dict[str, str]) -> dict[str, Any]:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    size = path.stat().st_size
    body = {
        "fileName": path.name,
        "contentType": content_type,
        "size": size,
        "sha256": file_sha256(path),
    }
    presigned = _data(client.post(f"{api}/upload/presigned-url", json=body, headers=auth))
    presigned["sha256"] = body["sha256"]
    headers = {str(k): str(v) for k, v in (presigned.get("headers") or {}).items()}
    headers["Content-Length"] = str(size)  # Blob Storage refuses chunked uploads
    bar = ProgressBar("upload")
    response = client.request(
        str(presigned.get("method", "PUT")),
        str(presigned["uploadUrl"]),
        content=_chunks(path, bar),
        headers=headers,
    )
    bar.show(100, human_size(size))
    bar.done()
    if not response.is_success:
        raise ApiError(response.status_code, "storage refused the upload")
    return presigned


# A stream that sends nothing this long (heartbeats come every 15 s) is held back on the way
# (a proxy that buffers responses): follow the job by long polling instead.
STREAM_SILENCE_SECONDS = 45.0
# One long poll waits up to 25 s on the server (LONG_POLL_WAIT_SECONDS, at most 60).
POLL_READ_SECONDS = 90.0


def follow(
    client: httpx.Client,
    api: str,
    job: dict[str, Any],
    queue: str,
    auth: dict[str, str],
    *,
    silence_seconds: float = STREAM_SILENCE_SECONDS,
) -> dict[str, Any]:
    """Follow the job's stream, resuming with Last-Event-ID, until its terminal update; when
    the stream sends nothing for `silence_seconds`, by long polling from the last event."""
    url = f"{api}/jobs/{job['jobId']}/stream"
    params = {"queueName": queue, "events": "jobstream"}  # job_update is all this reads
    headers = {"Accept": "text/event-stream"}
    if job.get("streamToken"):
        params["token"] = str(job["streamToken"])
    else:
        headers.update(auth)
    parser = SseParser()
    bar = ProgressBar("job")
    last: dict[str, Any] = {}
    failures = 0
    timeout = httpx.Timeout(30.0, read=silence_seconds)
    while True:
        if parser.last_event_id:
            headers["Last-Event-ID"] = parser.last_event_id
        try:
            with client.stream(
                "GET", url, params=params, headers=headers, timeout=timeout
            ) as response:
                if response.status_code == 204:
                    break  # finished, and we saw every event
                if not response.is_success:
                    response.read()
                    _data(response)
                failures = 0
                for event in parser.events(response.iter_lines()):
                    if event.event == "job_update":
                        last = json.loads(event.data)
                        bar.show(float(last.get("progress", 0)), describe(last))
                        if last.get("status") in TERMINAL:
                            bar.done()
                            return last
        except httpx.ReadTimeout:
            print(
                f"\nthe stream sent nothing for {silence_seconds:g} s (a proxy on the way may "
                "hold it back): following the job by polling",
                file=sys.stderr,
            )
            after = int(parser.last_event_id or 0)
            return poll_to_the_end(client, api, job, auth, after, bar) or last
        except httpx.TransportError:
            failures += 1
            if failures > 5:
                raise
        time.sleep((parser.retry_ms or 2000) / 1000 if failures else 0.05)
    bar.done()
    return last


def poll_to_the_end(
    client: httpx.Client,
    api: str,
    job: dict[str, Any],
    auth: dict[str, str],
    after: int,
    bar: ProgressBar,
) -> dict[str, Any]:
    """Follow the job by long polls (`GET jobs/{id}/events?after=N`) from event `after` to its
    end: the last update seen (empty when there was none after `after`)."""
    url = f"{api}/jobs/{job['jobId']}/events"
    token = job.get("streamToken")
    headers = {"Authorization": f"Bearer {token}"} if token else dict(auth)
    timeout = httpx.Timeout(30.0, read=POLL_READ_SECONDS)
    last: dict[str, Any] = {}
    failures = 0
    while True:
        try:
            response = client.get(
                url,
                params={"after": str(after), "events": "jobstream"},
                headers=headers,
                timeout=timeout,
            )
        except httpx.TransportError:
            failures += 1
            if failures > 5:
                raise
            time.sleep(min(2.0**failures, 15.0))
            continue
        failures = 0
        page = _data(response)
        for event in page["events"]:
            if event["event"] == "job_update" and event["data"]["sequence"] > after:
                last = event["data"]
                after = int(last["sequence"])
                bar.show(float(last.get("progress", 0)), describe(last))
        if page["finished"]:
            bar.done()
            return last
        time.sleep((page.get("retryAfterMs") or 0) / 1000)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["follow-all"]:
        return follow_all_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m jobstream_client",
        description=__doc__.splitlines()[0],
        epilog="`python -m jobstream_client follow-all --help`: follow all of your jobs instead.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--api", default="http://127.0.0.1:7071/api/v1", help="API base URL")
    parser.add_argument(
        "--job", default=None, help="a job name the API lists (default: the first it lists)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("JOBSTREAM_TOKEN"),
        help="a bearer JWT when the API runs with AUTH_MODE=jwt (default: $JOBSTREAM_TOKEN)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the raw result as JSON instead of a summary"
    )
    args = parser.parse_args(argv)
    path: Path = args.file
    if not path.is_file():
        parser.error(f"{path} is not a file")
    api = str(args.api).rstrip("/")
    auth = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    timeout = httpx.Timeout(30.0, read=120.0)
    try:
        with httpx.Client(timeout=timeout) as client:
            queues = job_queues(client, api)
            job_name = args.job or next(iter(queues), None)
            if job_name not in queues:
                known = ", ".join(queues) or "none"
                print(
                    f"error: the API runs no job {job_name!r} (it runs: {known})", file=sys.stderr
                )
                return 2
            queue = queues[job_name]
            presigned = upload(client, path, api, auth)
            job = _data(
                client.post(
                    f"{api}/jobs",
                    json={
                        "queueName": queue,
                        "jobName": job_name,
                        "data": {
                            "blobName": presigned["blobName"],
                            "fileName": path.name,
                            "sha256": presigned["sha256"],
                        },
                    },
                    headers=auth,
                )
            )
            print(f"job {job['jobId']} queued on {queue}", file=sys.stderr)
            final = follow(client, api, job, queue, auth)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {api}: {exc}", file=sys.stderr)
        return 3
    return report(final, as_json=args.json)


EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 4}


def report(final: dict[str, Any], *, as_json: bool) -> int:
    """Print how the job ended (the result on stdout) and return the exit status."""
    status = str(final.get("status"))
    result = final.get("result") or {}
    if status == "completed":
        if as_json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            print("\n".join(summary_lines(result)))
        return 0
    # A job_update carries `error` (the message) and `errorCode`.
    code = f" ({final['errorCode']})" if final.get("errorCode") else ""
    message = final.get("error") or final.get("message") or "no reason given"
    print(f"job {status}{code}: {message}", file=sys.stderr)
    return EXIT_CODES.get(status, 1)
