"""Our `protos` namespace holds every message, field and constant the real worker uses.

The runtime (`azure_functions_runtime`) is read as source: each `protos.Name[.Attr]` it
names must resolve in `devstack.host.protos`, and each keyword it passes when it builds a
message must be a field of that message. A runtime upgrade that uses something new fails
here, not in a running host. What it reads from the host's requests is pinned by running
its handlers (tests/integration/test_local_host.py, worker mode), since every message
refuses an undeclared field.
"""

import ast
from datetime import timedelta
from pathlib import Path

import azure_functions_runtime
import pytest

from devstack.host import protos

RUNTIME = Path(azure_functions_runtime.__file__).parent


def _attribute_chain(node: ast.AST) -> list[str] | None:
    """`protos.A.B` -> ["A", "B"]; None if the chain does not start at `protos`."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "protos" and names:
        return names[::-1]
    return None


def runtime_uses() -> tuple[set[tuple[str, ...]], dict[str, set[str]]]:
    """Every `protos.X...` chain in the runtime, and the keywords of each `protos.X(...)`."""
    chains: set[tuple[str, ...]] = set()
    keywords: dict[str, set[str]] = {}
    for path in RUNTIME.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain = _attribute_chain(node)
                if chain is not None:
                    chains.add(tuple(chain))
            if isinstance(node, ast.Call):
                chain = _attribute_chain(node.func)
                if chain is not None and len(chain) == 1:
                    keywords.setdefault(chain[0], set()).update(
                        k.arg for k in node.keywords if k.arg is not None
                    )
    return chains, keywords


CHAINS, KEYWORDS = runtime_uses()


def test_the_runtime_is_read_at_all() -> None:
    # A broken scan would make the tests below pass vacuously.
    assert ("StatusResult", "Success") in CHAINS
    assert {"invocation_id", "result", "return_value", "output_data"} <= KEYWORDS[
        "InvocationResponse"
    ]
    assert len(CHAINS) > 20


@pytest.mark.parametrize("chain", sorted(CHAINS), ids=".".join)
def test_every_name_the_runtime_uses_exists(chain: tuple[str, ...]) -> None:
    value: object = protos
    for name in chain:
        assert hasattr(value, name), f"protos.{'.'.join(chain)} is missing"
        value = getattr(value, name)


@pytest.mark.parametrize("message", sorted(KEYWORDS))
def test_every_field_the_runtime_sets_is_declared(message: str) -> None:
    cls = getattr(protos, message)
    missing = KEYWORDS[message] - set(cls.FIELDS)
    assert not missing, f"{message} lacks {sorted(missing)}"


def test_a_message_refuses_an_unknown_field_and_an_undeclared_read() -> None:
    with pytest.raises(TypeError, match="no field"):
        protos.StatusResult(status=1, cause="x")
    result = protos.StatusResult(status=protos.StatusResult.Success)
    with pytest.raises(AttributeError):
        _ = result.logs
    assert result.exception is None  # declared, unset: the default


def test_which_oneof_names_the_field_that_was_set() -> None:
    assert protos.TypedData(json="1").WhichOneof("data") == "json"
    assert protos.TypedData(string="").WhichOneof("data") == "string"  # set, even if empty
    assert protos.TypedData().WhichOneof("data") is None
    binding = protos.ParameterBinding(name="msg", data=protos.TypedData(bytes=b"x"))
    assert binding.WhichOneof("rpc_data") == "data"


def test_the_directions_keep_the_proto_enum_values() -> None:
    assert getattr(protos.BindingInfo, "in") == 0
    assert (protos.BindingInfo.out, protos.BindingInfo.inout) == (1, 2)
    assert getattr(protos.RpcHttpCookie.SameSite, "None") == 0
    assert (protos.StatusResult.Failure, protos.StatusResult.Success) == (0, 1)


def test_messages_cross_the_channel_unchanged() -> None:
    message = protos.StreamingMessage(
        request_id="r1",
        invocation_request=protos.InvocationRequest(
            invocation_id="i1",
            function_id="f1",
            input_data=[
                protos.ParameterBinding(name="msg", data=protos.TypedData(bytes=b"\x00\xffbody"))
            ],
            trigger_metadata={"DeliveryCount": protos.TypedData(json="1")},
        ),
    )
    retry = protos.RpcRetryOptions(max_retry_count=3, delay_interval=timedelta(seconds=5))

    assert protos.decode(protos.encode(message)) == message
    assert protos.decode(protos.encode(retry)) == retry
    back = protos.decode(protos.encode(message))
    assert back.invocation_request.input_data[0].data.bytes == b"\x00\xffbody"
    assert back.WhichOneof("content") == "invocation_request"
