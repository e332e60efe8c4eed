"""The queue topology: which queues exist, the job names each accepts, the app setting that
names each queue at run time, and the Service Bus properties every queue gets. It is written
once, in `queues.json` beside this module, which ships with the app.

Who reads it: `settings.py` (`Settings.queues`, `SERVICEBUS_MAX_DELIVERY_COUNT`), the worker's
triggers (`entrypoints/sb_worker.py`, bound with `%SETTING%` expressions), the catalog route
(`GET /api/v1/queues`), devstack (the emulator's queues), both IaC stacks (Bicep's
`loadJsonContent`, Terraform's `jsondecode(file(...))`) and the tests. docs/architecture.md
("Queue topology") says how to add a queue or a job type and how to rename a queue.

A bad file raises `TopologyError`, one line naming the file and each field at fault, e.g.
`function_app/queues.json: queues[1].jobNames: empty: a queue accepts at least one job name`.

(Over 300 lines on purpose: the file's schema and the messages that explain a broken file are
one format, read together when either changes.)
"""

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

TOPOLOGY_FILE = Path(__file__).with_name("queues.json")
_APP_ROOT = Path(__file__).resolve().parent.parent

# A queue's name in the file: lowercase letters, digits and '-', at most 100 characters, so the
# worker's function names (`worker_<name>`, '-' as '_') are valid and stay distinct.
FILE_QUEUE_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$"
# A name an app setting gives a queue: Azure's rule (letters, digits, '.', '-', '_', and '/' as
# a path separator; starting and ending with a letter or digit; at most 260 characters).
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$", re.ASCII)
SETTING_NAME = r"^[A-Z][A-Z0-9_]*$"
JOB_NAME = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


class TopologyError(ValueError):
    """The topology file is unusable; the message names the file and the field."""


def duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration as Service Bus takes them (`PT1M`, `P1D`, `PT0.5S`)."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration like 'PT1M' or 'P1D'")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _duration_within(text: str, fits: Callable[[float], bool], bounds: str) -> str:
    if not fits(duration_seconds(text)):
        raise ValueError(f"{text!r} is out of range: {bounds}")
    return text


def _matching(pattern: str, text: str, is_not: str) -> str:
    """`text` if it matches `pattern`; else ValueError "'text' is not <is_not>"."""
    if not re.fullmatch(pattern, text):
        raise ValueError(f"{text!r} is not {is_not}")
    return text


class QueueProperties(BaseModel):
    """The properties every queue gets, under their Service Bus names (the emulator's
    Config.json; ARM takes the same names with a lowercase first letter)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    lock_duration: str = Field(alias="LockDuration")
    # The worker ends a job `failed` on this delivery (SERVICEBUS_MAX_DELIVERY_COUNT, derived).
    max_delivery_count: int = Field(alias="MaxDeliveryCount", ge=1, le=100)
    default_message_time_to_live: str = Field(alias="DefaultMessageTimeToLive")
    dead_lettering_on_message_expiration: bool = Field(alias="DeadLetteringOnMessageExpiration")
    requires_duplicate_detection: bool = Field(alias="RequiresDuplicateDetection")
    duplicate_detection_history_time_window: str = Field(
        alias="DuplicateDetectionHistoryTimeWindow"
    )
    requires_session: bool = Field(alias="RequiresSession")

    @field_validator("lock_duration")
    @classmethod
    def _lock(cls, value: str) -> str:
        return _duration_within(
            value, lambda s: 0 < s <= 300, "longer than zero and at most PT5M, as in Azure"
        )

    @field_validator("default_message_time_to_live")
    @classmethod
    def _ttl(cls, value: str) -> str:
        return _duration_within(value, lambda s: s > 0, "longer than zero")

    @field_validator("duplicate_detection_history_time_window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _duration_within(
            value, lambda s: 20 <= s <= 7 * 86400, "from PT20S to P7D, as in Azure"
        )

    @field_validator("requires_session")
    @classmethod
    def _no_sessions(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "must be false: the worker's triggers and the local host read queues without "
                "sessions"
            )
        return value

    def as_service_bus(self) -> dict[str, Any]:
        """The properties as the file (and the emulator's Config.json) names them."""
        return self.model_dump(by_alias=True)


# A queue's `name` and `setting` in the file: the pattern each matches, and what a value that
# does not is not.
_NAME_RULES = {
    "name": (
        FILE_QUEUE_NAME,
        "a queue name here: lowercase letters, digits and '-', starting and ending with a "
        "letter or digit, at most 100 characters",
    ),
    "setting": (
        SETTING_NAME,
        "an app setting name here: capital letters, digits and '_', starting with a letter "
        "(e.g. RESUME_ANALYSIS_QUEUE)",
    ),
}


class Queue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str
    # The app setting naming this queue at run time (trigger bindings say `%SETTING%`).
    setting: str
    job_names: tuple[str, ...] = Field(alias="jobNames")

    @field_validator("name", "setting")
    @classmethod
    def _named(cls, text: str, info: ValidationInfo) -> str:
        pattern, is_not = _NAME_RULES[info.field_name or ""]
        return _matching(pattern, text, is_not)

    @field_validator("job_names")
    @classmethod
    def _job_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            raise ValueError("empty: a queue accepts at least one job name")
        for name in names:
            _matching(JOB_NAME, name, "a job name (lowercase letters, digits and '-')")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(map(repr, twice))} listed twice")
        return names

    @property
    def binding(self) -> str:
        """The binding expression a trigger names this queue with: `%SETTING%`."""
        return f"%{self.setting}%"


class Topology(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    comment: str | None = Field(default=None, alias="$comment")
    queue_properties: QueueProperties = Field(alias="queueProperties")
    queues: tuple[Queue, ...]

    @field_validator("queues")
    @classmethod
    def _some_queues(cls, queues: tuple[Queue, ...]) -> tuple[Queue, ...]:
        if not queues:
            raise ValueError("empty: the app needs at least one queue")
        return queues

    @model_validator(mode="after")
    def _each_name_once(self) -> Self:
        problems: list[str] = []
        names: dict[str, int] = {}
        settings: dict[str, int] = {}
        jobs: dict[str, int] = {}
        for i, queue in enumerate(self.queues):
            if queue.name in names:
                first = names[queue.name]
                problems.append(
                    f"queues[{i}].name: {queue.name!r} is listed twice (queues[{first}])"
                )
            names.setdefault(queue.name, i)
            if queue.setting in settings:
                first = settings[queue.setting]
                problems.append(
                    f"queues[{i}].setting: {queue.setting!r} names queues[{first}] already: "
                    "each queue has its own setting"
                )
            settings.setdefault(queue.setting, i)
            for job in queue.job_names:
                if job in jobs:
                    owner = self.queues[jobs[job]].name
                    problems.append(
                        f"queues[{i}].jobNames: {job!r} is accepted by queues[{jobs[job]}] "
                        f"({owner}) already: a job name belongs to one queue"
                    )
                jobs.setdefault(job, i)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def max_delivery_count(self) -> int:
        return self.queue_properties.max_delivery_count

    def job_names_by_queue(self) -> dict[str, tuple[str, ...]]:
        """Queue name (as in the file) -> the job names it accepts, in the file's order."""
        return {queue.name: queue.job_names for queue in self.queues}

    def names_in_use(self, setting_value: Callable[[str], object]) -> dict[str, str]:
        """Each queue's name in the file -> the name it goes by at run time: the value of its
        app setting (`setting_value(setting)`, None when unset), else the file's name.

        Raises ValueError `SETTING: problem; ...` for a value that is not a queue name, or two
        queues given one name (the app settings' values are not echoed, as in settings.py).
        """
        in_use: dict[str, str] = {}
        taken: dict[str, str] = {}
        problems: list[str] = []
        for queue in self.queues:
            value = setting_value(queue.setting)
            if value is None:
                name = queue.name
            elif not isinstance(value, str) or not value.strip():
                problems.append(
                    f"{queue.setting}: empty: set it to a queue name, or leave it unset for "
                    f"{queue.name!r}"
                )
                continue
            elif not _QUEUE_NAME.fullmatch(value):
                problems.append(
                    f"{queue.setting}: not a queue name (letters, digits, '.', '-', '_' and '/', "
                    "starting and ending with a letter or digit, at most 260 characters)"
                )
                continue
            else:
                name = value
            other = taken.get(name.lower())  # Service Bus names are case-insensitive
            if other is not None:
                problems.append(
                    f"{queue.setting}: names the same queue as {other} ({name!r}): each queue "
                    "needs its own"
                )
                continue
            taken[name.lower()] = queue.setting
            in_use[queue.name] = name
        if problems:
            raise ValueError("; ".join(problems))
        return in_use


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(_APP_ROOT).as_posix()
    except ValueError:
        return str(path)


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known_fields(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = Topology
    if loc[:1] == ("queueProperties",):
        model = QueueProperties
    elif loc[:1] == ("queues",):
        model = Queue
    names = [f.alias or name for name, f in model.model_fields.items()]
    return ", ".join(names)


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = tuple(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown field (known: {_known_fields(loc[:-1])})"
        elif err["type"] == "missing":
            message = "missing"
        elif err["type"] == "model_type" and not loc:
            message = "expected one JSON object (queueProperties, queues)"
        problems.append(f"{_where(loc)}: {message}" if loc else message)
    return problems


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, value in pairs:
        if key in entry:
            raise TopologyError(f"{key!r} appears twice in one object")
        entry[key] = value
    return entry


def load_topology(path: Path = TOPOLOGY_FILE) -> Topology:
    """Read and check a topology file; raise TopologyError naming the file and the fields."""
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(f"{shown}: cannot be read: {exc.strerror or exc}") from None
    try:
        json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise TopologyError(f"{shown}: not JSON: {exc}") from None
    except TopologyError as exc:
        raise TopologyError(f"{shown}: {exc}") from None
    try:
        return Topology.model_validate_json(text)
    except ValidationError as exc:
        raise TopologyError(f"{shown}: " + "; ".join(_problems(exc))) from None


@cache
def topology() -> Topology:
    """The topology the app ships with (`function_app/queues.json`), read once."""
    return load_topology(TOPOLOGY_FILE)
