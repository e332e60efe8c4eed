"""A local Azure Service Bus emulator; the unmodified azure-servicebus SDK talks to it over AMQP.

Run it with ``python -m devstack.servicebus --config PATH``; see docs/servicebus-emulator.md.
It imports nothing from the product (function_app).
"""
