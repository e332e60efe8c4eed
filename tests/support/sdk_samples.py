"""Microsoft's azure-servicebus samples, fetched from the pinned source distribution on PyPI.

The samples are never copied into our tree: `pip download` fetches the sdist once into
`.cache/` (gitignored) at the repository root, its sha256 is checked, and only its `samples/`
folder is kept. `make setup-test` runs `python -m tests.support.sdk_samples` so a fresh clone
has them before the tests start; the test fixture fetches them itself when they are missing.

7.11.4 is the last release whose samples connect with a connection string (the later ones
use Azure AD); they run against the SDK the project pins (requirements.txt).
"""

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST_VERSION = "7.11.4"
SDIST_SHA256 = "f7bd297791b6a577ce36a39ea0abb10aa0f875b6bb0d31522ed9ed2bb0288d4c"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE = PROJECT_ROOT / ".cache" / f"azure-servicebus-{SDIST_VERSION}-samples"


class SamplesUnavailableError(RuntimeError):
    """The sdist could not be downloaded or did not match its pinned hash."""


def samples_dir(cache: Path = CACHE) -> Path:
    """The folder holding `sync_samples/` and `async_samples/`, downloaded on first use."""
    if (cache / "sync_samples").is_dir() and (cache / "async_samples").is_dir():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        download = Path(tmp) / "download"
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-binary", ":all:", f"azure-servicebus=={SDIST_VERSION}",
            "-d", str(download),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        archives = sorted(download.glob("azure*servicebus-*.tar.gz"))
        if result.returncode != 0 or len(archives) != 1:
            raise SamplesUnavailableError(
                f"pip download of azure-servicebus=={SDIST_VERSION} failed "
                f"(exit {result.returncode}): {result.stderr[-2000:]}"
            )
        digest = hashlib.sha256(archives[0].read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise SamplesUnavailableError(
                f"{archives[0].name}: sha256 {digest}, expected the pinned {SDIST_SHA256}"
            )
        staging = Path(tmp) / "samples"
        prefix = f"azure-servicebus-{SDIST_VERSION}/samples/"
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                if not member.isfile() or not member.name.startswith(prefix):
                    continue
                target = staging / member.name[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
        if cache.exists():  # another process got there first
            return cache
        shutil.move(staging, cache)
    return cache


if __name__ == "__main__":
    print(samples_dir())
