"""jobstream: upload to Blob Storage, run a job from Service Bus, watch it live over SSE.

This package holds all product code. The Functions entry module is the root `main.py`
(named by the PYTHON_SCRIPT_FILE_NAME app setting), which only builds the FunctionApp
and registers the blueprints from `function_app.entrypoints`.
"""
