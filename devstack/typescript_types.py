"""`python -m devstack.typescript_types` (`make types`): web/types/jobstream-api.d.ts, the
TypeScript types of the API, generated from the OpenAPI document by openapi-typescript (pinned
in package.json): `paths`, `operations`, `components` and every schema as a root type
(`JobOut`, `JobUpdateEvent`, `JobStreamEvents`, ...). `--check` exits 1 when the committed file
differs from a fresh generation (a test runs `generate()` for the same)."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from function_app.entrypoints.openapi import openapi_document

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENAPI_TYPESCRIPT = REPO_ROOT / "node_modules" / ".bin" / "openapi-typescript"
TYPES_FILE = REPO_ROOT / "web" / "types" / "jobstream-api.d.ts"
# Fields with a default (left out when unset) stay optional in TypeScript.
OPTIONS = ("--root-types", "--root-types-no-schema-prefix", "--default-non-nullable", "false")


def generate() -> str:
    """The .d.ts text for the current document."""
    if not OPENAPI_TYPESCRIPT.exists():
        raise SystemExit(f"{OPENAPI_TYPESCRIPT} is missing: run `make setup` (npm ci)")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "openapi.json"
        target = Path(tmp) / "jobstream-api.d.ts"
        source.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True), "utf-8")
        subprocess.run(
            [str(OPENAPI_TYPESCRIPT), str(source), *OPTIONS, "-o", str(target)],
            check=True,
            capture_output=True,
            cwd=REPO_ROOT,
        )
        return target.read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    fresh = generate()
    if "--check" in argv:
        same = TYPES_FILE.exists() and TYPES_FILE.read_text(encoding="utf-8") == fresh
        if not same:
            print(f"{TYPES_FILE.relative_to(REPO_ROOT)} is stale: run `make types`")
        return 0 if same else 1
    TYPES_FILE.parent.mkdir(parents=True, exist_ok=True)
    TYPES_FILE.write_text(fresh, encoding="utf-8")
    print(f"wrote {TYPES_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
