"""The worker protocol's messages, as plain classes, for the real Python worker.

`azure_functions_runtime` (the worker Azure runs on Python 3.13) builds and reads its
messages through a `protos` module handed to it in `request.properties["protos"]`: in Azure
the proxy worker that ships with the Functions host passes its generated gRPC classes. Those
are on no package index (PyPI's `azure-functions-worker` stops at 1.1.9, before HTTP v2), so
these classes stand in for them: the public protocol's message and field names
(FunctionRpc.proto), holding exactly the fields the runtime reads and writes, nothing more.
Each message takes its fields as keywords; an unknown field is a TypeError and reading one
that is not declared an AttributeError, so a runtime upgrade that uses a new field fails a
test (tests/unit/devstack/test_worker_protos.py) instead of passing silently.

`encode` / `decode` turn messages into JSON-able values for our host <-> worker channel
(`devstack.host.channel`), which stands for the gRPC stream.

(Over 300 lines: one small class per protocol message the runtime uses.)
"""

import base64
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar


class Message:
    """A protocol message: declared fields only, proto3 defaults for the unset ones."""

    FIELDS: ClassVar[dict[str, Any]] = {}
    # Each oneof group: its member fields, in declaration order.
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, **fields: Any) -> None:
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        for name, default in self.FIELDS.items():
            value = fields.get(name, default)
            if isinstance(value, dict | list) and name not in fields:
                value = type(value)()  # a fresh map / repeated field per message
            setattr(self, name, value)
        self._set = frozenset(k for k, v in fields.items() if v is not None)

    if TYPE_CHECKING:  # fields are set per class at run time; reading others raises

        def __getattr__(self, name: str) -> Any: ...

    def WhichOneof(self, group: str) -> str | None:
        for name in self.ONEOFS[group]:
            if name in self._set:
                return name
        return None

    def HasField(self, name: str) -> bool:
        return name in self._set

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS if k in self._set)
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, k) == getattr(other, k) for k in self.FIELDS
        )

    __hash__ = None  # type: ignore[assignment]


# --- results and errors -------------------------------------------------------------------


class RpcException(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"source": "", "stack_trace": "", "message": ""}


class StatusResult(Message):
    Failure, Success, Cancelled = 0, 1, 2
    FIELDS: ClassVar[dict[str, Any]] = {"status": 0, "result": "", "exception": None}


class WorkerMetadata(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "runtime_name": "",
        "runtime_version": "",
        "worker_version": "",
        "worker_bitness": "",
        "custom_properties": {},
    }


# --- data ----------------------------------------------------------------------------------


class Timestamp(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"seconds": 0, "nanos": 0}


class NullableString(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"value": ""}


class NullableBool(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"value": False}


class NullableDouble(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"value": 0.0}


class NullableTimestamp(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"value": None}


class _SameSite:
    # `None` is a keyword in Python: protobuf exposes it through getattr, as here.
    Lax, Strict, ExplicitNone = 1, 2, 3


setattr(_SameSite, "None", 0)


class RpcHttpCookie(Message):
    SameSite = _SameSite
    FIELDS: ClassVar[dict[str, Any]] = {
        "name": "",
        "value": "",
        "domain": None,
        "path": None,
        "expires": None,
        "secure": None,
        "http_only": None,
        "same_site": 0,
        "max_age": None,
    }


class RpcHttp(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "method": "",
        "url": "",
        "headers": {},
        "body": None,
        "params": {},
        "status_code": "",
        "query": {},
        "enable_content_negotiation": False,
        "cookies": [],
    }


class TypedData(Message):
    DATA = (
        "string",
        "json",
        "bytes",
        "stream",
        "http",
        "int",
        "double",
        "collection_bytes",
        "collection_string",
        "collection_double",
        "collection_sint64",
        "model_binding_data",
        "collection_model_binding_data",
    )
    FIELDS: ClassVar[dict[str, Any]] = dict.fromkeys(DATA)
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"data": DATA}


class ParameterBinding(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"name": "", "data": None, "rpc_shared_memory": None}
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"rpc_data": ("data", "rpc_shared_memory")}


# --- function metadata ---------------------------------------------------------------------


class BindingInfo(Message):
    # Direction (`in` is a keyword: set below) and DataType, as in FunctionRpc.proto.
    out, inout = 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3
    FIELDS: ClassVar[dict[str, Any]] = {"type": "", "direction": 0, "data_type": 0}


setattr(BindingInfo, "in", 0)


class RpcRetryOptions(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "max_retry_count": 0,
        "retry_strategy": "",
        "delay_interval": None,
        "minimum_interval": None,
        "maximum_interval": None,
    }


class RpcFunctionMetadata(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "name": "",
        "function_id": "",
        "managed_dependency_enabled": False,
        "directory": "",
        "script_file": "",
        "entry_point": "",
        "is_proxy": False,
        "language": "",
        "bindings": {},
        "raw_bindings": [],
        "retry_options": None,
        "properties": {},
    }


# --- requests (host -> worker) -------------------------------------------------------------


class WorkerInitRequest(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "host_version": "",
        "capabilities": {},
        "log_categories": {},
        "worker_directory": "",
        "function_app_directory": "",
    }


class FunctionsMetadataRequest(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"function_app_directory": ""}


class FunctionLoadRequest(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "function_id": "",
        "metadata": None,
        "managed_dependency_enabled": False,
    }


class RpcTraceContext(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"trace_parent": "", "trace_state": "", "attributes": {}}


class RetryContext(Message):
    FIELDS: ClassVar[dict[str, Any]] = {"retry_count": 0, "max_retry_count": 0, "exception": None}


class InvocationRequest(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "invocation_id": "",
        "function_id": "",
        "input_data": [],
        "trigger_metadata": {},
        "trace_context": None,
        "retry_context": None,
    }


# --- responses (worker -> host) ------------------------------------------------------------


class WorkerInitResponse(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "worker_version": "",
        "capabilities": {},
        "result": None,
        "worker_metadata": None,
    }


class FunctionMetadataResponse(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "function_metadata_results": [],
        "result": None,
        "use_default_metadata_indexing": False,
    }


class FunctionLoadResponse(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "function_id": "",
        "result": None,
        "is_dependency_downloaded": False,
    }


class InvocationResponse(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "invocation_id": "",
        "output_data": [],
        "return_value": None,
        "result": None,
    }


class FunctionEnvironmentReloadResponse(Message):
    FIELDS: ClassVar[dict[str, Any]] = {
        "worker_metadata": None,
        "capabilities": {},
        "result": None,
    }


class StreamingMessage(Message):
    """The envelope of every message on the stream: an id and exactly one content."""

    CONTENT = (
        "worker_init_request",
        "worker_init_response",
        "functions_metadata_request",
        "function_metadata_response",
        "function_load_request",
        "function_load_response",
        "invocation_request",
        "invocation_response",
    )
    FIELDS: ClassVar[dict[str, Any]] = {"request_id": "", **dict.fromkeys(CONTENT)}
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"content": CONTENT}


# --- the channel's encoding ----------------------------------------------------------------

_CLASSES: dict[str, type[Message]] = {
    name: value
    for name, value in vars(sys.modules[__name__]).items()
    if isinstance(value, type) and issubclass(value, Message) and value is not Message
}


def encode(value: Any) -> Any:
    """A JSON-able form of a message (or of any value a field holds)."""
    if isinstance(value, Message):
        return {
            "@": type(value).__name__,
            **{k: encode(getattr(value, k)) for k in value.FIELDS if k in value._set},
        }
    if isinstance(value, bytes | bytearray):
        return {"@bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, timedelta):
        return {"@seconds": value.total_seconds()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, dict):
        if "@" in value:
            cls = _CLASSES[value["@"]]
            return cls(**{k: decode(v) for k, v in value.items() if k != "@"})
        if "@bytes" in value:
            return base64.b64decode(value["@bytes"])
        if "@seconds" in value:
            return timedelta(seconds=value["@seconds"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
