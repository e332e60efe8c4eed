"""Run every benchmark under bench/ in turn: `python -m bench` (or `make bench`).

Each benchmark is a module `bench/<name>_bench.py` with a `main(argv) -> None` that prints
its numbers. `python -m bench NAME` runs just one (e.g. `python -m bench servicebus`);
options after one name go to that benchmark (`python -m bench api --quick`).
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removesuffix("_bench")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.endswith("_bench")
    )


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1].startswith("-"):
        name, options = argv[0], argv[1:]
        if name not in available():
            print(f"unknown benchmark: {name}; available: {', '.join(available())}")
            return 2
        print(f"=== bench: {name}", flush=True)
        importlib.import_module(f"bench.{name}_bench").main(options)
        return 0
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names:
        print(f"=== bench: {name}", flush=True)
        module = importlib.import_module(f"bench.{name}_bench")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
