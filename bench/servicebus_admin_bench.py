"""The Service Bus emulator's shared port: what telling TLS from AMQP costs a connection, and
what the management API (ServiceBusAdministrationClient over HTTPS) costs per operation.

`python -m bench servicebus_admin` (``--quick`` for fewer rounds). Starts its own emulator
(in memory, its certificate in a temporary folder) and prints, all wall-clock on this
machine (so noisy on a shared one):

1. a bare AMQP connection: connect, send the protocol header, read the emulator's, close;
   the peek at the first byte (devstack/servicebus/listener.py) is the only work added to it;
2. a TLS handshake on the same port (a fresh `ssl` client socket each time);
3. through the sync SDK client (keep-alive: one handshake): `get_queue_runtime_properties`,
   `create_queue` + `delete_queue`, and `list_queues` with the emulator's queues.
"""

import argparse
import json
import socket
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from azure.servicebus.management import ServiceBusAdministrationClient

from devstack.servicebus.launcher import start_emulator
from devstack.servicebus.tls import TlsFiles

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"


def _timed(label: str, rounds: int, action: Callable[[int], object]) -> None:
    times: list[float] = []
    for i in range(rounds):
        started = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - started)
    times.sort()
    p50 = statistics.median(times) * 1e6
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6
    print(f"  {label:<52} p50 {p50:8.0f} us   p99 {p99:8.0f} us   ({rounds} rounds)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench servicebus_admin")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds = 100 if args.quick else 500
    with tempfile.TemporaryDirectory(prefix="sb-admin-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "config.json"
        queues = [{"Name": f"q{i}", "Properties": {}} for i in range(20)]
        namespace = {"Name": "sbemulatorns", "Queues": queues}
        config.write_text(json.dumps({"UserConfig": {"Namespaces": [namespace]}}), "utf-8")
        emulator = start_emulator(config, tls_dir=folder / "tls")
        try:
            address = (emulator.host, emulator.port)
            bundle = str(TlsFiles(folder / "tls").bundle)
            context = ssl.create_default_context(cafile=bundle)
            print(f"emulator pid {emulator.pid} on {address[0]}:{address[1]}", flush=True)

            def amqp(_: int) -> None:
                with socket.create_connection(address) as sock:
                    sock.sendall(AMQP_HEADER)
                    assert sock.recv(8) == AMQP_HEADER

            def handshake(_: int) -> None:
                with (
                    socket.create_connection(address) as sock,
                    context.wrap_socket(sock, server_hostname=address[0]),
                ):
                    pass

            _timed("AMQP connect + protocol header exchange", rounds, amqp)
            _timed("TLS connect + handshake (management side)", rounds // 2, handshake)
            with ServiceBusAdministrationClient.from_connection_string(
                emulator.connection_string, connection_verify=bundle
            ) as admin:
                admin.get_queue("q0")  # the connection and its handshake, not counted
                _timed(
                    "get_queue_runtime_properties (SDK, keep-alive)",
                    rounds,
                    lambda _: admin.get_queue_runtime_properties("q0"),
                )

                def create_delete(i: int) -> None:
                    admin.create_queue(f"made-{i}")
                    admin.delete_queue(f"made-{i}")

                _timed("create_queue + delete_queue (SDK)", rounds // 2, create_delete)
                _timed(
                    f"list_queues of {len(queues)} (SDK)",
                    rounds // 5,
                    lambda _: list(admin.list_queues()),
                )
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
