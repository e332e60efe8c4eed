"""The management REST API (ATOM XML over HTTPS) that `ServiceBusAdministrationClient` speaks,
served on the emulator's AMQP port (listener.py tells TLS from AMQP; tls.py makes the
certificate). azure-servicebus 7.15 sends, to ``https://{Endpoint's host:port}``, always with
``?api-version=2021-05`` and ``Authorization: SharedAccessSignature sr=...&sig=...`` (accepted
when present, not checked, as the AMQP side accepts any token); docs/servicebus-emulator.md
lists the routes:

- a queue or topic: ``GET`` / ``PUT`` (create) / ``PUT`` + ``If-Match: *`` (update) /
  ``DELETE /{name}``; lists: ``GET /$Resources/queues`` (``topics``) ``?$skip=0&$top=100``;
- a subscription: ``/{topic}/subscriptions/{name}``; list: ``GET /{topic}/subscriptions``;
- a rule: ``/{topic}/subscriptions/{sub}/rules/{name}``; list: ``.../rules``;
- the namespace: ``GET /$namespaceinfo``.

The runtime properties (``get_*_runtime_properties``, ``list_*_runtime_properties``) are the
same GETs: the description carries ``MessageCount``, ``CountDetails`` and ``SizeInBytes``.
Answers: 200 with an ATOM ``entry`` (a PUT answers 201 on create, as Azure), 200 with a
``feed`` for lists; errors as Azure's ``<Error><Code/><Detail/></Error>`` with 400, 401,
404 (the SDK raises ``ResourceNotFoundError``), 409 (``ResourceExistsError``), 413.
"""

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from . import atom
from .admin_entities import (
    BadEntityError,
    Entities,
    EntityExistsError,
    EntityNotFoundError,
    parse_rule,
    queue_properties,
    subscription_properties,
    topic_properties,
    with_parameters,
)
from .store import Entity

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger("devstack.servicebus")

MAX_HEAD_BYTES = 16 * 1024
IDLE_TIMEOUT_S = 60.0
PAGE_DEFAULT = 100
_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Request:
    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> None:
        self.method = method
        split = urlsplit(target)
        self.parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        self.headers = headers
        self.body = body
        self.base = f"https://{headers.get('host', host)}"

    def url(self, *parts: str) -> str:
        return self.base + "/" + "/".join(quote(p, safe="$") for p in parts)

    @property
    def update(self) -> bool:
        return "if-match" in self.headers


class ManagementApi:
    """Routes one request to the namespace's entities; answers (status, XML element)."""

    def __init__(self, emulator: "Emulator") -> None:
        self.emulator = emulator
        self.started = datetime.datetime.now(datetime.UTC)
        self.times: dict[str, tuple[datetime.datetime, datetime.datetime]] = {}

    @property
    def entities(self) -> Entities:
        return self.emulator.entities

    def _times(self, path: str) -> tuple[datetime.datetime, ...]:
        created, updated = self.times.get(path.lower(), (self.started, self.started))
        return created, updated, datetime.datetime.now(datetime.UTC)

    def _touch(self, path: str, *, created: bool) -> int:
        now = datetime.datetime.now(datetime.UTC)
        first = now if created else self.times.get(path.lower(), (self.started,))[0]
        self.times[path.lower()] = (first, now)
        return 201 if created else 200

    # ---- routing --------------------------------------------------------------------------
    def handle(self, request: Request) -> tuple[int, Any]:
        if not request.headers.get("authorization", "").startswith("SharedAccessSignature "):
            raise HttpError(401, "a SharedAccessSignature Authorization header is required")
        self.emulator.namespace.tick()  # counts as of now (expiries, due schedules)
        parts = request.parts
        method = request.method
        if parts == ["$namespaceinfo"] and method == "GET":
            info = atom.namespace_info(self.emulator.namespace.name, self.started)
            return 200, atom.entry(request.url(*parts), "sbemulatorns", info, self.started)
        if len(parts) == 2 and parts[0] == "$Resources" and method == "GET":
            return 200, self._list_entities(request, parts[1].lower())
        if len(parts) == 1:
            return self._entity(request, parts[0])
        if len(parts) == 2 and parts[1].lower() == "subscriptions" and method == "GET":
            return 200, self._list_subscriptions(request, parts[0])
        if len(parts) == 3 and parts[1].lower() == "subscriptions":
            return self._subscription(request, parts[0], parts[2])
        rules = len(parts) >= 4 and parts[1].lower() == "subscriptions"
        rules = rules and parts[3].lower() == "rules"
        if rules and len(parts) == 4 and method == "GET":
            return 200, self._list_rules(request, parts[0], parts[2])
        if rules and len(parts) == 5:
            return self._rule(request, parts[0], parts[2], parts[4])
        raise HttpError(404, f"no management route for {method} /{'/'.join(parts)}")

    def _page(self, request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
        try:
            skip = max(0, int(request.query.get("$skip", "0")))
            top = max(1, int(request.query.get("$top", str(PAGE_DEFAULT))))
        except ValueError:
            raise HttpError(400, "$skip and $top are integers") from None
        page = items[skip : skip + top]
        if skip + top >= len(items):
            return page, None
        next_url = f"{request.url(*request.parts)}?$skip={skip + top}&$top={top}"
        return page, next_url

    # ---- entries --------------------------------------------------------------------------
    def _queue_entry(self, request: Request, queue: Entity) -> Any:
        description = atom.queue_description(
            queue_properties(queue.config),
            _runtime(queue),
            self._times(queue.name),
            request.base,
        )
        return atom.entry(request.url(queue.name), queue.name, description, self.started)

    def _topic_entry(self, request: Request, topic: Any) -> Any:
        runtime = topic.runtime()
        runtime["sizeInBytes"] = sum(_size(s) for s in topic.subscriptions.values())
        description = atom.topic_description(
            topic_properties(topic.config),
            runtime,
            self._times(topic.name),
            len(topic.subscriptions),
        )
        return atom.entry(request.url(topic.name), topic.name, description, self.started)

    def _subscription_entry(self, request: Request, topic: Any, subscription: Entity) -> Any:
        name = subscription.name.rsplit("/", 1)[-1]
        description = atom.subscription_description(
            subscription_properties(subscription.config),
            _runtime(subscription),
            self._times(subscription.name),
            request.base,
        )
        url = request.url(topic.name, "subscriptions", name)
        return atom.entry(url, name, description, self.started)

    def _rule_entry(self, request: Request, topic: Any, subscription: Entity, rule: Any) -> Any:
        sub_name = subscription.name.rsplit("/", 1)[-1]
        key = f"{subscription.name}/rules/{rule.name}"
        created = self._times(key)[0]
        url = request.url(topic.name, "subscriptions", sub_name, "rules", rule.name)
        return atom.entry(url, rule.name, atom.rule_description(rule, created), created)

    # ---- queues and topics ----------------------------------------------------------------
    def _entity(self, request: Request, name: str) -> tuple[int, Any]:
        namespace = self.emulator.namespace
        if request.method == "GET":
            if name.lower() in namespace.queues:
                return 200, self._queue_entry(request, namespace.queues[name.lower()])
            if name.lower() in namespace.topics:
                return 200, self._topic_entry(request, namespace.topics[name.lower()])
            raise HttpError(404, f"entity {name!r} does not exist")
        if request.method == "DELETE":
            if name.lower() in namespace.topics:
                deleted = self.entities.delete_topic(name)
            else:
                deleted = self.entities.delete_queue(name)
            self.emulator.detach_links(deleted)
            self.times.pop(name.lower(), None)
            return 200, None
        if request.method != "PUT":
            raise HttpError(405, f"{request.method} is not a management operation")
        element = atom.description(atom.parse_body(request.body))
        properties = atom.description_properties(element)
        kind = element.tag.rsplit("}", 1)[-1]
        if kind == "QueueDescription":
            if request.update and name.lower() in namespace.topics:
                raise HttpError(400, f"{name!r} is a topic")
            queue = self.entities.put_queue(name, properties, update=request.update)
            status = self._touch(queue.name, created=not request.update)
            return status, self._queue_entry(request, queue)
        if kind == "TopicDescription":
            if request.update and name.lower() in namespace.queues:
                raise HttpError(400, f"{name!r} is a queue")
            topic = self.entities.put_topic(name, properties, update=request.update)
            status = self._touch(topic.name, created=not request.update)
            return status, self._topic_entry(request, topic)
        raise HttpError(400, f"a {kind} cannot be put at /{name}")

    def _list_entities(self, request: Request, kind: str) -> Any:
        namespace = self.emulator.namespace
        if kind == "queues":
            queues, next_url = self._page(request, list(namespace.queues.values()))
            entries = [self._queue_entry(request, q) for q in queues]
        elif kind == "topics":
            topics, next_url = self._page(request, list(namespace.topics.values()))
            entries = [self._topic_entry(request, t) for t in topics]
        else:
            raise HttpError(400, f"entity type {kind!r}: queues or topics")
        return atom.feed(request.url(*request.parts), kind.title(), entries, next_url)

    # ---- subscriptions --------------------------------------------------------------------
    def _subscription(self, request: Request, topic_name: str, name: str) -> tuple[int, Any]:
        if request.method == "GET":
            topic, subscription = self.entities.subscription(topic_name, name)
            return 200, self._subscription_entry(request, topic, subscription)
        if request.method == "DELETE":
            self.emulator.detach_links(self.entities.delete_subscription(topic_name, name))
            return 200, None
        if request.method != "PUT":
            raise HttpError(405, f"{request.method} is not a management operation")
        element = atom.description(atom.parse_body(request.body))
        if not element.tag.endswith("SubscriptionDescription"):
            raise HttpError(400, "expected a SubscriptionDescription")
        properties = atom.description_properties(element)
        default_rule = None
        for child in element:
            if child.tag.rsplit("}", 1)[-1] == "DefaultRuleDescription":
                definition, original, parameters = atom.rule_definition(child, "$Default")
                default_rule = with_parameters(parse_rule(definition), original, parameters)
        subscription = self.entities.put_subscription(
            topic_name, name, properties, update=request.update, default_rule=default_rule
        )
        status = self._touch(subscription.name, created=not request.update)
        topic = self.entities.topic(topic_name)
        return status, self._subscription_entry(request, topic, subscription)

    def _list_subscriptions(self, request: Request, topic_name: str) -> Any:
        topic = self.entities.topic(topic_name)
        subscriptions, next_url = self._page(request, list(topic.subscriptions.values()))
        entries = [self._subscription_entry(request, topic, s) for s in subscriptions]
        return atom.feed(request.url(*request.parts), "Subscriptions", entries, next_url)

    # ---- rules ----------------------------------------------------------------------------
    def _rule(self, request: Request, topic_name: str, sub_name: str, name: str) -> tuple[int, Any]:
        topic, subscription = self.entities.subscription(topic_name, sub_name)
        key = f"{subscription.name}/rules/{name}"
        if request.method == "GET":
            rule = self.entities.rule(topic_name, sub_name, name)
            return 200, self._rule_entry(request, topic, subscription, rule)
        if request.method == "DELETE":
            self.entities.delete_rule(topic_name, sub_name, name)
            self.times.pop(key.lower(), None)
            return 200, None
        if request.method != "PUT":
            raise HttpError(405, f"{request.method} is not a management operation")
        element = atom.description(atom.parse_body(request.body))
        if not element.tag.endswith("RuleDescription"):
            raise HttpError(400, "expected a RuleDescription")
        definition, original, parameters = atom.rule_definition(element, name)
        rule = with_parameters(parse_rule(definition), original, parameters)
        rule = self.entities.put_rule(topic_name, sub_name, rule, update=request.update)
        status = self._touch(key, created=not request.update)
        return status, self._rule_entry(request, topic, subscription, rule)

    def _list_rules(self, request: Request, topic_name: str, sub_name: str) -> Any:
        topic, subscription = self.entities.subscription(topic_name, sub_name)
        rules, next_url = self._page(request, list(self.entities.rules(topic_name, sub_name)))
        entries = [self._rule_entry(request, topic, subscription, r) for r in rules]
        return atom.feed(request.url(*request.parts), "Rules", entries, next_url)


def _size(entity: Entity) -> int:
    return sum(
        len(m.body_raw) + len(m.properties_raw) + len(m.application_properties_raw)
        for m in entity.messages.values()
    )


def _runtime(entity: Entity) -> dict[str, int]:
    runtime = entity.runtime()
    runtime["sizeInBytes"] = _size(entity)
    return runtime


def answer(api: ManagementApi, request: Request) -> tuple[int, bytes]:
    try:
        status, element = api.handle(request)
    except HttpError as exc:
        status, element = exc.status, atom.error(exc.status, exc.detail)
    except EntityNotFoundError as exc:
        status, element = 404, atom.error(404, str(exc))
    except EntityExistsError as exc:
        status, element = 409, atom.error(409, str(exc))
    except BadEntityError as exc:
        status, element = 400, atom.error(400, str(exc))
    if status >= 400:
        log.warning(
            "management %s /%s: %d %s",
            request.method,
            "/".join(request.parts),
            status,
            element.findtext("Detail"),
        )
    return status, atom.to_bytes(element) if element is not None else b""


async def _read_request(reader: asyncio.StreamReader, host: str) -> Request | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "the request ended early") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(413, f"request head larger than {MAX_HEAD_BYTES} bytes") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise HttpError(400, "chunked bodies are not accepted; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise HttpError(400, "Content-Length is not an integer") from None
    if length < 0 or length > atom.MAX_BODY_BYTES:
        raise HttpError(413, f"the body is larger than {atom.MAX_BODY_BYTES} bytes")
    body = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT_S) if length else b""
    return Request(method, target, headers, body, host)


def protocol_factory(emulator: "Emulator") -> Callable[[], asyncio.BaseProtocol]:
    """For listener.py: one keep-alive HTTP/1.1 connection per TLS connection."""
    api = ManagementApi(emulator)

    def make() -> asyncio.BaseProtocol:
        reader = asyncio.StreamReader(limit=MAX_HEAD_BYTES)
        return asyncio.StreamReaderProtocol(reader, lambda r, w: _serve(api, r, w))

    return make


async def _serve(
    api: ManagementApi, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    sockname = writer.get_extra_info("sockname")
    host = f"{sockname[0]}:{sockname[1]}" if sockname else "localhost"
    try:
        while True:
            keep_alive = True
            try:
                request = await _read_request(reader, host)
                if request is None:
                    break
                status, payload = answer(api, request)
                keep_alive = request.headers.get("connection", "").lower() != "close"
            except HttpError as exc:
                status, payload, keep_alive = (
                    exc.status,
                    atom.to_bytes(atom.error(exc.status, exc.detail)),
                    False,
                )
            except TimeoutError:
                break
            except Exception as exc:  # a bug: one line, the traceback too at DEBUG
                log.error(
                    "internal error in the management API: %r",
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                status, payload, keep_alive = (
                    500,
                    atom.to_bytes(atom.error(500, "internal error")),
                    False,
                )
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "Content-Type: application/atom+xml;type=entry;charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\n"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
            ).encode()
            writer.write(head + payload)
            await writer.drain()
            if not keep_alive:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
