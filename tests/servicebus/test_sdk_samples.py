"""Conformance from outside: Microsoft's azure-servicebus samples, run unmodified.

The samples come from the pinned 7.11.4 source distribution on PyPI at test time
(`tests/support/sdk_samples.py`; never copied into our tree). Each selected sample runs as
its own process against one emulator of its own, with the environment variables the samples
read, and its own entities (a queue, a session queue, a topic with a subscription), so samples
run side by side without sharing messages. They run in the background from the start of the
session (`SampleRuns`, started by tests/servicebus/conftest.py) while the rest of the suite
runs, and each `test_sample` item, run last, collects its own result. A sample passes when it
exits 0 within its time, prints no traceback (a thread's exception does not change the exit
code) and, for the few that would exit 0 having done nothing, prints what proves the work was
done.

`PASSING` is the set the emulator is known to pass: a sample in it that fails is a regression.
A sample outside it that passes fails the test too, so the set (and docs/servicebus-emulator.md)
is kept up to date. `NOT_APPLICABLE` holds the samples that cannot run against any emulator,
with the reason.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from devstack.servicebus.launcher import start_emulator
from tests.support.sdk_samples import samples_dir

NOT_APPLICABLE: dict[str, str] = {
    "client_identity_authentication": "Azure AD (EnvironmentCredential): needs a tenant",
    "client_identity_authentication_async": "Azure AD (EnvironmentCredential): needs a tenant",
    "authenticate_using_azure_named_key_credential": (
        "a credential and a fully qualified namespace: TLS on port 5671 to a real host name, "
        "no way to name the emulator's port or turn TLS off"
    ),
    "authenticate_using_azure_named_key_credential_async": (
        "a credential and a fully qualified namespace: TLS on port 5671 to a real host name"
    ),
    "authenticate_using_azure_sas_credential": (
        "a credential and a fully qualified namespace: TLS on port 5671 to a real host name"
    ),
    "authenticate_using_azure_sas_credential_async": (
        "a credential and a fully qualified namespace: TLS on port 5671 to a real host name"
    ),
    "generate_sas_token_and_authenticate_client": (
        "a credential and a fully qualified namespace: TLS on port 5671 to a real host name"
    ),
    "sample_code_servicebus": (
        "builds its clients with DefaultAzureCredential and SERVICEBUS_FULLY_QUALIFIED_NAMESPACE "
        "(Azure AD)"
    ),
    "sample_code_servicebus_async": "builds its clients with DefaultAzureCredential (Azure AD)",
    "proxy": "AMQP over WebSockets through an HTTP proxy (port 443, TLS)",
    "proxy_async": "AMQP over WebSockets through an HTTP proxy (port 443, TLS)",
    "connection_to_custom_endpoint_address": (
        "placeholders in the code ('sb://<custom_endpoint_hostname>:<custom_endpoint_port>' and "
        "a CA bundle path): cannot run unmodified"
    ),
    "connection_to_custom_endpoint_address_async": (
        "placeholders in the code (custom endpoint and CA bundle path): cannot run unmodified"
    ),
}

# The samples the emulator passes (measured; docs/servicebus-emulator.md has the table).
PASSING: frozenset[str] = frozenset(
    {
        "authenticate_client_connstr",
        "authenticate_client_connstr_async",
        "auto_lock_renew",
        "auto_lock_renew_async",
        "deadletter_messages_and_correct",
        "deadletter_messages_and_correct_async",
        "failure_and_recovery",
        "mgmt_queue",
        "mgmt_queue_async",
        "mgmt_rule",
        "mgmt_rule_async",
        "mgmt_subscription",
        "mgmt_subscription_async",
        "mgmt_topic",
        "mgmt_topic_async",
        "receive_deadlettered_messages",
        "receive_deadlettered_messages_async",
        "receive_deferred_message_queue",
        "receive_deferred_message_queue_async",
        "receive_iterator_queue",
        "receive_iterator_queue_async",
        "receive_peek",
        "receive_peek_async",
        "receive_queue",
        "receive_queue_async",
        "receive_subscription",
        "receive_subscription_async",
        "schedule_messages_and_cancellation",
        "send_and_receive_amqp_annotated_message",
        "send_and_receive_amqp_annotated_message_async",
        "schedule_messages_and_cancellation_async",
        "schedule_topic_messages_and_cancellation",
        "schedule_topic_messages_and_cancellation_async",
        "send_queue",
        "send_queue_async",
        "send_topic",
        "send_topic_async",
        "session_pool_receive",
        "session_pool_receive_async",
        "session_send_receive",
        "session_send_receive_async",
        "topic_subscription_with_rule_operations",
        "topic_subscription_with_rule_operations_async",
    }
)

# Output that proves the work was done, for samples that exit 0 whatever happened.
MUST_PRINT: dict[str, str] = {
    "session_pool_receive": r"Received total 200 messages across 10 sessions",
    # five sessions, each ending with a 'shutdown' message
    "session_pool_receive_async": r"(?s)(Message: shutdown.*){5}",
    "receive_subscription": r"(?s)seeded 0.*seeded 1.*seeded 2",
    "receive_subscription_async": r"(?s)seeded 0.*seeded 1.*seeded 2",
}
# Samples that receive until stopped (`for msg in receiver` without a max_wait_time), as
# they would against Azure: they pass when this was printed before they are stopped.
RUNS_UNTIL_STOPPED: dict[str, tuple[float, str]] = {
    "failure_and_recovery": (30.0, r"(?s)Receiving.*Data 0.*Data 9"),
    "receive_iterator_queue": (20.0, r"(?s)seeded 0.*seeded 1.*seeded 2"),
    "receive_iterator_queue_async": (20.0, r"(?s)seeded 0.*seeded 1.*seeded 2"),
}
# Samples that only receive: the harness first sends them three messages, to the queue or
# topic named by this variable, and they must print them.
SEEDED = {
    "receive_iterator_queue": "SERVICEBUS_QUEUE_NAME",
    "receive_iterator_queue_async": "SERVICEBUS_QUEUE_NAME",
    "receive_subscription": "SERVICEBUS_TOPIC_NAME",
    "receive_subscription_async": "SERVICEBUS_TOPIC_NAME",
}
# The auto-lock-renew samples hold messages for 100 s and more on purpose.
SLOW = {"auto_lock_renew": 420.0, "auto_lock_renew_async": 420.0}
TIMEOUT_S = 150.0
SESSION_ID = "sample-session"
WORKERS = 6  # the samples mostly wait (receive timeouts, sleeps), not compute


def sample_names() -> list[str]:
    folder = samples_dir()
    return sorted(
        p.stem for sub in ("sync_samples", "async_samples") for p in (folder / sub).glob("*.py")
    )


def applicable() -> list[str]:
    return [name for name in sample_names() if name not in NOT_APPLICABLE]


def _entities(name: str) -> dict[str, str]:
    base = name.replace("_", "-")
    return {
        "SERVICEBUS_QUEUE_NAME": base,
        "SERVICEBUS_SESSION_QUEUE_NAME": f"{base}-sessions",
        "SERVICEBUS_TOPIC_NAME": f"{base}-topic",
        "SERVICEBUS_SUBSCRIPTION_NAME": "sample-subscription",
        "SERVICEBUS_SESSION_ID": SESSION_ID,
    }


def samples_config(names: list[str]) -> dict[str, Any]:
    """One queue, one session queue and one topic with a subscription per sample."""
    queues: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    for name in names:
        entities = _entities(name)
        queues.append({"Name": entities["SERVICEBUS_QUEUE_NAME"], "Properties": {}})
        queues.append(
            {
                "Name": entities["SERVICEBUS_SESSION_QUEUE_NAME"],
                "Properties": {"RequiresSession": True},
            }
        )
        subscription = {"Name": entities["SERVICEBUS_SUBSCRIPTION_NAME"], "Properties": {}}
        topics.append({"Name": entities["SERVICEBUS_TOPIC_NAME"], "Subscriptions": [subscription]})
    namespace = {"Name": "sbemulatorns", "Queues": queues, "Topics": topics}
    return {"UserConfig": {"Namespaces": [namespace], "Logging": {"Type": "Console"}}}


@dataclass(frozen=True)
class SampleRun:
    name: str
    returncode: int | None  # None: killed at its timeout
    seconds: float
    stdout: str
    stderr: str

    def failure(self) -> str | None:
        """Why the run does not count as a pass; None when it passes."""
        until_stopped = RUNS_UNTIL_STOPPED.get(self.name)
        if until_stopped is not None and self.returncode is None:
            if re.search(until_stopped[1], self.stdout):
                return None
            return f"stopped after {self.seconds:.0f} s without {until_stopped[1]!r}"
        if self.returncode is None:
            return f"timed out after {self.seconds:.0f} s"
        if self.returncode != 0:
            return f"exit {self.returncode}: {_last_error(self.stderr or self.stdout)}"
        if "Traceback (most recent call last)" in self.stderr + self.stdout:
            return f"exit 0 but a traceback: {_last_error(self.stderr + self.stdout)}"
        wanted = MUST_PRINT.get(self.name)
        if wanted is not None and not re.search(wanted, self.stdout):
            tail = self.stdout.strip().splitlines()[-1:] or ["(nothing)"]
            return f"exit 0 without {wanted!r}; last line: {tail[0][:200]}"
        return None


def _last_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line.strip()):
            return line.strip()[:300]
    return (lines[-1] if lines else "(no output)")[:300]


def _seed(name: str, connection_string: str, env: dict[str, str]) -> None:
    seed_to = SEEDED.get(name)
    if seed_to is None:
        return
    with ServiceBusClient.from_connection_string(connection_string) as client:
        sender = (
            client.get_topic_sender(env[seed_to])
            if seed_to == "SERVICEBUS_TOPIC_NAME"
            else client.get_queue_sender(env[seed_to])
        )
        with sender:
            sender.send_messages([ServiceBusMessage(f"seeded {i}") for i in range(3)])


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def is_sample_item(item: pytest.Item) -> bool:
    """A `test_sample[...]` item of this module (what `SampleRuns` runs in the background)."""
    callspec = getattr(item, "callspec", None)
    return (
        item.path.name == Path(__file__).name
        and callspec is not None
        and "sample" in callspec.params
    )


def selected_samples(items: list[pytest.Item]) -> list[str]:
    """The samples whose test items the session will run (after -k, -m, ids, deselection)."""
    return [str(item.callspec.params["sample"]) for item in items if is_sample_item(item)]  # type: ignore[attr-defined]


class SampleRuns:
    """The selected samples, run in the background from the start of the session.

    `tests/servicebus/conftest.py` starts them once collection has finished (when this
    module's samples are selected) and stops them when the session ends; each `test_sample`
    item waits for its own run only. The samples mostly sleep (receive timeouts, the
    lock-renewal samples' 100 s holds), so the rest of the suite runs meanwhile. One emulator,
    `WORKERS` samples at a time, the slow ones first; every process stopped by its pid.
    """

    def __init__(self, names: list[str], workdir: Path) -> None:
        self.workdir = workdir
        config = workdir / "config.json"
        config.write_text(json.dumps(samples_config(applicable()), indent=2), encoding="utf-8")
        self.emulator = start_emulator(config, log_path=workdir / "servicebus.log")
        self._running: dict[int, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sdk-sample")
        # the slow ones first, so they overlap with the rest
        ordered = sorted(dict.fromkeys(names), key=lambda n: -SLOW.get(n, 0.0))
        self.runs: dict[str, Future[SampleRun]] = {
            name: self._pool.submit(self._run, name) for name in ordered
        }

    def result(self, name: str) -> SampleRun:
        return self.runs[name].result()

    def _run(self, name: str) -> SampleRun:
        folder = "async_samples" if name.endswith("_async") else "sync_samples"
        script = samples_dir() / folder / f"{name}.py"
        env = {
            **os.environ,
            **_entities(name),
            "SERVICEBUS_CONNECTION_STR": self.emulator.connection_string,
            **self.emulator.client_env,  # the admin client trusts its certificate
            "PYTHONUNBUFFERED": "1",
        }
        _seed(name, self.emulator.connection_string, env)
        timeout = SLOW.get(name, RUNS_UNTIL_STOPPED.get(name, (TIMEOUT_S, ""))[0])
        started = time.monotonic()
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the session ended before the sample started")
            process = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self._running[process.pid] = process
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            stdout, stderr = process.communicate()
            return SampleRun(name, None, time.monotonic() - started, _text(stdout), _text(stderr))
        finally:
            with self._lock:
                self._running.pop(process.pid, None)
        returncode = None if self._stopping.is_set() else process.returncode
        return SampleRun(name, returncode, time.monotonic() - started, stdout, stderr)

    def stop(self) -> None:
        """Stop every sample still running and the emulator, by pid; keep the results."""
        with self._lock:
            self._stopping.set()
            running = list(self._running.values())
        for process in running:
            _stop(process)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.emulator.stop()
        results = {
            name: future.result().failure()
            for name, future in self.runs.items()
            if future.done() and not future.cancelled() and future.exception() is None
        }
        as_expected = len(results) == len(self.runs) and all(
            (why is None) == (name in PASSING) for name, why in results.items()
        )
        if as_expected:  # else the logs stay for a look (the failing test names the folder)
            shutil.rmtree(self.workdir, ignore_errors=True)
            return
        report = {name: {"passed": why is None, "why": why} for name, why in results.items()}
        (self.workdir / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


# Where the session keeps its `SampleRuns` (tests/servicebus/conftest.py puts it there).
SAMPLE_RUNS = pytest.StashKey[SampleRuns]()


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGKILL by pid (a sample holds nothing of ours worth a graceful stop)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)


@pytest.fixture
def sample_runs(request: pytest.FixtureRequest) -> SampleRuns:
    """The session's background runs (started by tests/servicebus/conftest.py)."""
    runs = request.config.stash.get(SAMPLE_RUNS, None)
    assert runs is not None, "the samples were not started: is tests/servicebus/conftest.py loaded?"
    return runs


def test_every_sample_in_the_sdist_is_classified() -> None:
    names = set(sample_names())
    assert len(names) == 56, sorted(names)  # 13 not applicable, 43 run
    assert set(NOT_APPLICABLE) <= names
    assert names - set(NOT_APPLICABLE) >= PASSING


# The samples run in the background from the session's start and these items run last (see
# tests/servicebus/conftest.py), so they seldom wait; alone, the first waits up to 7 minutes.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("sample", applicable())
def test_sample(sample: str, sample_runs: SampleRuns) -> None:
    run = sample_runs.result(sample)
    failure = run.failure()
    if sample in PASSING:
        assert failure is None, (
            f"{sample} regressed: {failure} (logs in {sample_runs.workdir})\n{run.stderr[-3000:]}"
        )
    else:
        assert failure is not None, f"{sample} passes now: add it to PASSING (and the docs)"
        pytest.xfail(f"{sample}: {failure}")


def test_the_selected_samples_run_in_the_background_and_their_items_last(
    request: pytest.FixtureRequest,
) -> None:
    """Started when collection ended (this test runs before any sample item), and every
    sample item after every other test but the browser ones, so the suite does not wait."""
    items = request.session.items
    names = selected_samples(items)
    runs = request.config.stash.get(SAMPLE_RUNS, None)
    if not names:
        assert runs is None
        return
    assert runs is not None, "no background runs: the samples would start with their first item"
    assert sorted(runs.runs) == sorted(names)
    order = [is_sample_item(item) for item in items if item.get_closest_marker("browser") is None]
    assert order == sorted(order), "a test runs after the sample items and waits on them"
