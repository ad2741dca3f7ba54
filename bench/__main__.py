"""`make bench`: run every benchmark module in bench/ (each has a `main(argv)`), or those named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    # benchmark names first, then options (with their values: `ledger --n 20000`), which every selected benchmark gets
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option], argv[first_option:]
    available = sorted(
        info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)]) if not info.name.startswith("_")
    )
    selected = names or available
    unknown = sorted(set(selected) - set(available))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available) or 'none'}")
        return 2
    if not selected:
        print("no benchmarks in bench/ yet")
        return 0
    status = 0
    for name in selected:
        print(f"== bench/{name}.py ==", flush=True)
        status |= importlib.import_module(f"bench.{name}").main(options) or 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
