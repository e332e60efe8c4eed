"""The local host loads the same functions, with the same bindings, as the real Python
worker (azure-functions-runtime on Python 3.13) indexing the same app root.

Each side runs in a fresh interpreter: the worker's registries are module-global."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_APP = Path(__file__).parent / "local_host_app"

pytestmark = pytest.mark.integration

WORKER_SIDE = """
import json, sys
from pathlib import Path
from azure_functions_runtime.loader import index_function_app
root, script = Path(sys.argv[1]), sys.argv[2]
sys.path.insert(0, str(root))
functions = index_function_app(str(root / script))
print(json.dumps({f.get_function_name(): sorted(f.get_raw_bindings()) for f in functions}))
"""

HOST_SIDE = """
import json, sys
from pathlib import Path
from devstack.host.loader import load_function_app
from devstack.host.http_app import http_functions
root = Path(sys.argv[1])
_, functions = load_function_app(root)
print(json.dumps({
    "bindings": {f.get_function_name(): sorted(f.get_raw_bindings()) for f in functions},
    "routes": sorted("/" + f.route.template for f in http_functions(functions, "")),
}))
"""


def run(code: str, root: Path, script: str) -> dict[str, object]:
    env = {**os.environ, "PYTHON_SCRIPT_FILE_NAME": script, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(root), script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("root", "script"),
    [(TINY_APP, "tiny_app.py"), (REPO_ROOT, "main.py")],
    ids=["tiny-app", "jobstream"],
)
def test_the_host_indexes_what_the_worker_indexes(root: Path, script: str) -> None:
    worker = run(WORKER_SIDE, root, script)
    host = run(HOST_SIDE, root, script)

    assert host["bindings"] == worker


def test_the_tiny_app_routes_and_triggers_are_indexed() -> None:
    host = run(HOST_SIDE, TINY_APP, "tiny_app.py")
    bindings = host["bindings"]
    assert isinstance(bindings, dict)

    assert host["routes"] == [
        "/concurrency/{group}",
        "/files/{*rest}",
        "/items/{itemId:int}",
        "/received",
        "/release/{token}",
        "/stream/{token}",
        "/whoami",
    ]
    dead_letter = [json.loads(b) for b in bindings["on_dead_letter"]]
    assert dead_letter[0]["queueName"] == "%TINY_QUEUE%/$DeadLetterQueue"
    assert dead_letter[0]["type"] == "serviceBusTrigger"
