"""checkov scans both stacks offline; the only accepted failures are the skips listed, with
their reasons, in infra/checkov-skips.toml.

checkov runs once without --skip-check and the skip list is applied here, so a skip that no
longer matches any failure is reported as stale (checkov drops skipped ids from its report).
The same result by hand: checkov --skip-download -d infra/bicep -d infra/terraform
--skip-check <the ids in the skip file>.
"""

import json
import subprocess
import tomllib
from typing import Any

import pytest

from tests.infra import stacks

CHECKOV = stacks.ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = stacks.ROOT / "infra" / "checkov-skips.toml"


def _skips() -> dict[str, str]:
    return dict(tomllib.loads(SKIPS_FILE.read_text("utf-8"))["skips"])


@pytest.fixture(scope="module")
def checkov_reports() -> list[dict[str, Any]]:
    assert CHECKOV.is_file(), "checkov missing: run `make setup-test` (installs .venv-checkov)"
    result = subprocess.run(
        [
            str(CHECKOV),
            "--skip-download",
            "--quiet",
            "--output",
            "json",
            "--framework",
            "bicep",
            "terraform",
            "--directory",
            str(stacks.BICEP_DIR),
            "--directory",
            str(stacks.TERRAFORM_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-4000:]
    reports: list[dict[str, Any]] = []
    decoder, text, at = json.JSONDecoder(), result.stdout, 0
    # One JSON document per framework, printed back to back (an object or a list of them).
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        try:
            parsed, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            pytest.fail(f"checkov printed no JSON:\n{text[-2000:]}\n{result.stderr[-2000:]}")
        reports.extend(parsed if isinstance(parsed, list) else [parsed])
    return [r for r in reports if isinstance(r, dict) and "results" in r]


def _failed(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**check, "check_type": r["check_type"]}
        for r in reports
        for check in r["results"]["failed_checks"]
    ]


def test_every_skip_has_a_reason() -> None:
    skips = _skips()
    assert skips
    for check_id, reason in skips.items():
        assert check_id.startswith(("CKV_", "CKV2_")), check_id
        assert len(reason.split()) >= 6, f"{check_id}: give a real reason"


def test_checkov_scanned_both_stacks(checkov_reports: list[dict[str, Any]]) -> None:
    by_type = {r["check_type"]: r for r in checkov_reports}
    assert {"bicep", "terraform"} <= set(by_type)
    for check_type in ("bicep", "terraform"):
        assert by_type[check_type]["summary"]["passed"] > 10, check_type


def test_no_check_fails_outside_the_skip_list(checkov_reports: list[dict[str, Any]]) -> None:
    skips = _skips()
    failures = [
        f"{c['check_type']}: {c['check_id']} {c['check_name']} -- {c['resource']} "
        f"({c['file_path']}:{c['file_line_range']})"
        for c in _failed(checkov_reports)
        if c["check_id"] not in skips
    ]
    assert not failures, "checkov failed checks:\n" + "\n".join(failures)


def test_every_skip_still_matches_a_check(checkov_reports: list[dict[str, Any]]) -> None:
    used = {c["check_id"] for c in _failed(checkov_reports)}
    stale = set(_skips()) - used
    assert not stale, f"remove skips that match nothing: {sorted(stale)}"
