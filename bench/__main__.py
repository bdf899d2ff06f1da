"""Every benchmark, one after the other, each printing its table: `python -m bench`.

Takes about 20 minutes on the 2-core machine. Each benchmark starts and tears
down its own local stack; run one alone with `python -m bench.consumer_bench`
or `python -m bench.marts_bench` (both take --help).
"""
from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench.consumer_bench", "bench.marts_bench", "bench.idle_cpu")


def main() -> int:
    failed = [name for name in BENCHMARKS if subprocess.run([sys.executable, "-m", name]).returncode != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
