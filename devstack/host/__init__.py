"""A local stand-in for the Azure Functions host (Core Tools cannot be installed here).

It routes every HTTP request (`http_app`, uvicorn) and runs every Service Bus queue trigger
with the `host.json` settings (`servicebus_trigger`) and every timer (`timer_trigger`).
The functions themselves run in the real Python worker, `azure_functions_runtime`, in a
process of its own (`worker_process`, driven by `worker_client` and `worker_http`) with
`JOBSTREAM_LOCAL_WORKER=worker`, or in this process (`loader`) with `inprocess`.
`python -m devstack.host` runs it alone.
"""
