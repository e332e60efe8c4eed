"""The TypeScript types of the API (web/types/jobstream-api.d.ts): generated from the OpenAPI
document by openapi-typescript, never edited by hand, and usable from a strict TypeScript
consumer (tests/typescript/consumer.ts, checked with the pinned `tsc`)."""

import subprocess
from pathlib import Path

import pytest

from devstack.typescript_types import REPO_ROOT, TYPES_FILE, generate

TSC = REPO_ROOT / "node_modules" / ".bin" / "tsc"
CONSUMER = Path(__file__).with_name("consumer.ts")
TSC_OPTIONS = ("--noEmit", "--strict", "--target", "es2022", "--module", "esnext")
TSC_OPTIONS += ("--moduleResolution", "bundler")


def tsc(*files: Path) -> subprocess.CompletedProcess[str]:
    assert TSC.exists(), f"{TSC} is missing: run `make setup` (npm ci)"
    return subprocess.run(
        [str(TSC), *TSC_OPTIONS, *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=240,
    )


def test_the_committed_types_are_a_fresh_generation() -> None:
    assert TYPES_FILE.read_text(encoding="utf-8") == generate(), "stale: run `make types`"


def test_a_strict_consumer_type_checks_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    good = tsc(CONSUMER)
    assert good.returncode == 0, good.stdout + good.stderr
    # The same imports, misused: an unknown status, a missing field, a wrong event payload.
    wrong = tmp_path / "wrong.ts"
    types = TYPES_FILE.with_suffix("").with_suffix("")
    wrong.write_text(
        f'import type {{ JobOut, JobStreamEvents }} from "{types}";\n'
        'export const s: JobOut["status"] = "finished";\n'
        'export const e: JobStreamEvents["complete"] = { progress: 1 };\n',
        encoding="utf-8",
    )
    bad = tsc(wrong)
    assert bad.returncode != 0
    assert "finished" in bad.stdout
    assert "progress" in bad.stdout


@pytest.mark.parametrize("name", ["JobOut", "JobUpdateEvent", "JobStreamEvents", "Error409"])
def test_every_schema_is_a_root_type(name: str) -> None:
    assert f"export type {name} = components['schemas']['{name}'];" in TYPES_FILE.read_text(
        encoding="utf-8"
    )
