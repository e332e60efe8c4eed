"""The browser client's switch from a held-back stream to long polling and back
(web/jobstream-client.js `watch`), tested in Node (`client_fallback.test.mjs`: a fake
EventSource and fetch, mocked timers): when it switches, from which event it polls, that
nothing is lost or repeated, when it tries the stream again and how it gives up."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SUITE = HERE / "client_fallback.test.mjs"


def test_the_client_switch_logic_passes_its_node_suite() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the local stack's set-up installs it (Azurite needs it)")
    done = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(SUITE)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = dict(re.findall(r"^\S* ?(tests|pass|fail) (\d+)$", done.stdout, re.MULTILINE))
    assert summary.get("fail") == "0", done.stdout[-2000:]
    assert int(summary.get("pass", 0)) >= 6, done.stdout[-2000:]
