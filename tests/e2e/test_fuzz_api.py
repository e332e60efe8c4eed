"""The API fuzzed from its own OpenAPI document (schemathesis) against the local stack.

Every non-stream operation gets generated requests, valid and invalid (schemathesis' positive
and negative modes); then stateful scenarios follow the document's links: presign -> (the PUT
to the upload URL, outside the API) -> enqueue naming the blob -> status, cancel. Every answer
must be in the document (status, media type, headers, body), none may be a 5xx, and no error
body may carry a stack trace or an internal name. The stream routes, which schemathesis cannot
read (it waits for the answer to end), get a bounded generator of our own for their query and
headers, reading only the status and the first bytes.

Hypothesis runs derandomized (the same requests each run), without a deadline.
"""

import copy
import itertools
import json
import re
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.host.http_app import worker_route_matches
from function_app.entrypoints.openapi import openapi_document
from tests.support.openapi_check import check_answer, check_event
from tests.support.stack import LocalStack

EXAMPLES_PER_OPERATION = 100  # per generation mode (fewer where the inputs run out)
STATEFUL_SCENARIOS = 40
MIN_REQUESTS = 1000
STREAM_PROBES = 12  # per stream route
# A stack trace or a name from our code or a library's in an answer.
INTERNAL = re.compile(
    r"Traceback|File \"|function_app|devstack|site-packages|pydantic|azure\.|starlette|"
    r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b"
)
UPLOAD_PAIR = ("document-analysis", "analyze-document")  # takes .txt (function_app/queues.json)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=EXAMPLES_PER_OPERATION,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def is_stream(operation: dict[str, Any]) -> bool:
    return any("text/event-stream" in r.get("content", {}) for r in operation["responses"].values())


def split_document() -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The document without its stream operations (what schemathesis fuzzes), and those."""
    document = copy.deepcopy(openapi_document())
    streams = []
    for path, operations in document["paths"].items():
        for method, operation in list(operations.items()):
            if is_stream(operation):
                streams.append((path, operation))
                del operations[method]
    kept = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    for operations in document["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                links = response.get("links", {})
                for name in [n for n, link in links.items() if link["operationId"] not in kept]:
                    del links[name]
    document["paths"] = {path: ops for path, ops in document["paths"].items() if ops}
    return document, streams


class Tally:
    """Every request sent and every answer's status, per operation."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()

    def record(
        self,
        label: str,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        self.requests[label] += 1
        self.statuses[(label, status)] += 1
        check_answer(method, path, status, headers.get("content-type"), body, headers)
        if status >= 400:
            text = body.decode("utf-8", "replace")
            leaked = INTERNAL.search(text)
            assert leaked is None, f"{label} -> {status} names {leaked.group(0)!r}: {text[:300]}"

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def refused_by_the_worker(response: Response) -> bool:
    """A request whose path the worker's catch-all route does not match (a newline inside a
    path value): it gets FastAPI's own 404 in Azure and in both local modes, checked here to
    be exactly that (docs/api.md, "Paths with a newline"); nothing else is let through."""
    path = httpx.URL(str(response.request.url)).path
    if worker_route_matches(path):
        return False
    assert response.status_code == 404, path
    assert response.content == b'{"detail":"Not Found"}', path
    assert response.headers.get("content-type") == ["application/json"], path
    return True


def observe(tally: Tally, case: Case, response: Response) -> bool:
    """Record and check the answer; False when it is the worker's bare 404 (checked)."""
    request = response.request
    path = httpx.URL(str(request.url)).path
    if refused_by_the_worker(response):
        tally.requests[case.operation.label] += 1
        tally.statuses[(case.operation.label, response.status_code)] += 1
        return False
    tally.record(
        case.operation.label,
        str(request.method),
        path,
        response.status_code,
        {name.lower(): values[0] for name, values in response.headers.items()},
        response.content or b"",
    )
    return True


def takes_body(operation: Any) -> bool:
    """Only a body can be made invalid here (a path parameter is any string)."""
    return bool(operation.definition.raw.get("requestBody"))


def operation_id(operation: Any) -> str:
    return str(operation.definition.raw.get("operationId", operation.label))


def owner_headers(stack: LocalStack, name: str) -> dict[str, str]:
    return stack.headers(f"fuzz-{name}-{uuid.uuid4().hex[:8]}")


def fuzz_operation(stack: LocalStack, tally: Tally, operation: Any, mode: GenerationMode) -> None:
    # One owner per operation and mode: the per-minute limits are per caller.
    headers = owner_headers(stack, operation_id(operation))

    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        response = case.call(base_url=stack.base_url, headers=headers, timeout=30)
        if observe(tally, case, response):
            case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def fuzz_every_operation(local_stack: LocalStack, tally: Tally) -> None:
    document, _ = split_document()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    started = time.monotonic()
    for operation in operations:
        fuzz_operation(local_stack, tally, operation, GenerationMode.POSITIVE)
        if takes_body(operation):
            fuzz_operation(local_stack, tally, operation, GenerationMode.NEGATIVE)
    print(
        f"\nfuzz: {tally.total} requests over {len(operations)} operations"
        f" in {time.monotonic() - started:.1f} s"
    )
    for label in sorted(tally.requests):
        statuses = {s: n for (lbl, s), n in sorted(tally.statuses.items()) if lbl == label}
        print(f"  {label}: {tally.requests[label]} requests, statuses {statuses}")
    assert not [key for key in tally.statuses if key[1] >= 500]


def upload(stack: LocalStack, presigned: dict[str, Any]) -> None:
    """The PUT a browser makes with a presigned URL (Azurite, outside the API document)."""
    put = httpx.put(
        presigned["uploadUrl"], content=b"hello fuzz\n", headers=presigned["headers"], timeout=30
    )
    assert put.status_code == 201, put.text


def fuzz_stateful_links(local_stack: LocalStack, tally: Tally) -> None:
    """presign -> PUT -> enqueue -> status / cancel, as the document's links chain them.

    Half the presigns are made valid (a .txt file) and every enqueue that came from a link
    names a real queue and job, so the chain reaches a real job; the rest stays generated."""
    document, _ = split_document()
    schema = schemathesis.openapi.from_dict(document)
    chained: Counter[str] = Counter()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.headers = owner_headers(local_stack, "stateful")
            self.uploaded: list[str] = []  # blob names this scenario's presigns gave and PUT

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": local_stack.base_url, "headers": self.headers, "timeout": 30}

        def before_call(self, case: Case) -> None:
            # Half the presigns made valid, chosen by the generated body (the same case always
            # the same way: hypothesis replays cases and wants them to behave alike).
            if (
                operation_id(case.operation) == "presignUpload"
                and zlib.crc32(repr(case.body).encode()) % 2
            ):
                case.body = {"fileName": "fuzz.txt", "contentType": "text/plain", "size": 11}
            body = case.body
            if (
                operation_id(case.operation) == "enqueueJob"
                and isinstance(body, dict)
                and isinstance(body.get("data"), dict)
                and "blobName" in body["data"]
            ):
                body["queueName"], body["jobName"] = UPLOAD_PAIR
                # The link's part: the blob name an earlier presign of this scenario answered
                # (schemathesis does not always resolve `$response.body#/data/blobName`).
                if self.uploaded:
                    body["data"]["blobName"] = self.uploaded[-1]

        def after_call(self, response: Response, case: Case) -> None:
            observe(tally, case, response)
            name = operation_id(case.operation)
            chained[f"{name} {response.status_code}"] += 1
            if name == "presignUpload" and response.status_code == 201:
                upload(local_stack, response.json()["data"])
                self.uploaded.append(response.json()["data"]["blobName"])

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            if not refused_by_the_worker(response):
                case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=hypothesis.settings(
            SETTINGS, max_examples=STATEFUL_SCENARIOS, stateful_step_count=6
        )
    )
    print(f"\nstateful: {dict(sorted(chained.items()))}")
    assert chained["enqueueJob 202"] >= 1, "no scenario reached a real job"
    assert chained["getJob 200"] + chained["cancelJob 202"] + chained["cancelJob 409"] >= 1


def real_job(stack: LocalStack, http: httpx.Client, owner: dict[str, str]) -> str:
    """One job of `owner`'s, through the whole path (presign, PUT, enqueue): its id."""
    presign = {"fileName": "fuzz.txt", "contentType": "text/plain", "size": 11}
    presigned = http.post("/api/v1/upload/presigned-url", json=presign, headers=owner)
    assert presigned.status_code == 201, presigned.text
    upload(stack, presigned.json()["data"])
    queue, job = UPLOAD_PAIR
    body = {
        "queueName": queue,
        "jobName": job,
        "data": {"blobName": presigned.json()["data"]["blobName"]},
    }
    accepted = http.post("/api/v1/jobs", json=body, headers=owner)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["data"]["jobId"])


def first_event(chunk: bytes) -> tuple[str, Any]:
    """The name and parsed `data:` of the first event in a stream's first bytes."""
    name, data = "message", []
    for line in chunk.decode("utf-8").split("\n"):
        if not line and data:
            break
        if line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].lstrip())
    assert data, f"no event in the stream's first bytes: {chunk[:200]!r}"
    return name, json.loads("\n".join(data))


STREAM_QUERIES: list[dict[str, str]] = [
    {},
    {"after": "3"},
    {"since": "0"},
    {"since": "1.2"},
    {"since": "-1"},
    {"since": "abc"},
    {"since": "9" * 40},
    {"events": "steps"},
    {"events": "jobstream,steps"},
    {"events": "nope"},
    {"token": "not-a-token"},
    {"queueName": "no-such-queue"},
]
STREAM_HEADERS: list[dict[str, str]] = [
    {},
    {"Last-Event-ID": "1"},
    {"Last-Event-ID": "1.1"},
    {"Last-Event-ID": "x" * 300},
    {"Last-Event-ID": "-5"},
    {"Authorization": "Bearer nope"},
]


def stream_probes(
    path: str, real_job: str
) -> Iterator[tuple[str, dict[str, str], dict[str, str], bool]]:
    """(path, query, headers, authenticated): a bounded cross of the generator's values."""
    job_ids = [real_job, "does-not-exist", "x" * 200, "%2E%2E"]
    cases = itertools.product(STREAM_QUERIES, STREAM_HEADERS, (True, False))
    for n, (query, headers, authenticated) in enumerate(itertools.islice(cases, STREAM_PROBES)):
        yield path.replace("{jobId}", job_ids[n % len(job_ids)]), query, headers, authenticated


def probe_stream_routes(local_stack: LocalStack, tally: Tally) -> None:
    _, streams = split_document()
    assert len(streams) == 5
    sent = 0
    events: Counter[str] = Counter()
    owner = owner_headers(local_stack, "stream")
    with httpx.Client(base_url=local_stack.base_url, timeout=30) as http:
        job_id = real_job(local_stack, http, owner)
        for path, operation in streams:
            for url, query, headers, authenticated in stream_probes(path, job_id):
                auth = owner if authenticated else {}
                with http.stream("GET", url, params=query, headers={**auth, **headers}) as r:
                    ctype = r.headers.get("content-type", "")
                    streaming = ctype.startswith("text/event-stream")
                    first = next(r.iter_bytes(), b"") if streaming else r.read()
                    path_sent = r.request.url.path
                    body = b"" if streaming else first
                    tally.record(
                        operation["operationId"], "GET", path_sent, r.status_code, r.headers, body
                    )
                    if r.status_code == 200:
                        name, payload = first_event(first)
                        check_event(path_sent, name, payload)
                        events[f"{operation['operationId']} {name}"] += 1
                sent += 1
    print(f"\nstreams: {sent} probes over {len(streams)} routes; first events {dict(events)}")
    assert sum(events.values()) >= len(streams), "too few probes reached a stream"


def test_the_api_holds_to_its_document_under_fuzzing(local_stack: LocalStack) -> None:
    """Each part asserts as it goes (a 5xx, an answer outside the document, a leaked name);
    then the whole run must have sent at least MIN_REQUESTS requests."""
    tally = Tally()
    started = time.monotonic()
    fuzz_every_operation(local_stack, tally)
    fuzz_stateful_links(local_stack, tally)
    probe_stream_routes(local_stack, tally)
    print(f"\nfuzz total: {tally.total} requests in {time.monotonic() - started:.1f} s")
    assert tally.total >= MIN_REQUESTS
