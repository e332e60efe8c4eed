"""Functions entry module (PYTHON_SCRIPT_FILE_NAME=main.py): the one FunctionApp.

It only builds the app and registers the blueprints from `function_app.entrypoints`.
"""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
