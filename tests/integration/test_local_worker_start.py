"""The host in worker mode refuses an app the real worker refuses, naming why (exit 2)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

ROUTE_VALUE_AS_ARGUMENT = """
    import azure.functions as func
    from azurefunctions.extensions.http.fastapi import JSONResponse, Request

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/jobs/{jobId}", methods=["GET"])
    async def job(req: Request, jobId: str) -> JSONResponse:
        return JSONResponse({})
"""


def test_an_app_the_worker_refuses_stops_the_host_with_the_workers_reason(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}', encoding="utf-8")
    (tmp_path / "function_app.py").write_text(
        textwrap.dedent(ROUTE_VALUE_AS_ARGUMENT), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_SCRIPT", "JOBSTREAM_"))}
    env["JOBSTREAM_LOCAL_WORKER"] = "worker"
    done = subprocess.run(
        [sys.executable, "-m", "devstack.host", "--root", str(tmp_path), "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("devstack.host: the worker refused the app")
    assert "FunctionLoadError" in last
    assert "jobId" in last
