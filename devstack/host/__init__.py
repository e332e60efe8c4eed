"""A local stand-in for the Azure Functions host (Core Tools cannot be installed here).

It loads the app as the Python worker does (`loader`), serves every HTTP function with
uvicorn (`http_app`) and runs every Service Bus queue trigger with the `host.json`
settings (`servicebus_trigger`). `python -m devstack.host` runs it alone.
"""
