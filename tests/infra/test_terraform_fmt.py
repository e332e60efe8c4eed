"""`terraform fmt -check` on the Terraform stack, when the terraform CLI is on PATH.

make installs no terraform; without it this test is skipped with the reason shown by -ra.
"""

import shutil
import subprocess

import pytest

from tests.infra import stacks


def test_terraform_files_are_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform CLI not on PATH: formatting not checked (parity tests still ran)")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-diff", str(stacks.TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
