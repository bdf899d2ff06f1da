"""What the benchmarks print besides their own figures: the machine, percentiles, a two-column table."""
from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    """The machine a benchmark ran on."""

    cpus: int  # os.cpu_count()
    nproc: int  # the CPUs this process may run on
    model: str
    system: str
    release: str
    python: str

    @classmethod
    def current(cls) -> Machine:
        return cls(cpus=os.cpu_count() or 0, nproc=len(os.sched_getaffinity(0)), model=_cpu_model(),
                   system=platform.system(), release=platform.release(), python=platform.python_version())


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or "unknown CPU")


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minutes (the machine is shared: other work shows here)."""
    return os.getloadavg()


def machine_line(when: str) -> str:
    """The line under a benchmark's table: this machine, and its load average now (`when`: "start", "end")."""
    host = Machine.current()
    load = " ".join(f"{value:.2f}" for value in load_average())
    return (f"machine: {host.cpus} CPUs (nproc {host.nproc}), {host.model}, {host.system} {host.release}, "
            f"Python {host.python}; load average {load} at the {when} (shared machine)")


def percentile(values: Sequence[float], share: float) -> float:
    """The value at `share` (0..1) of the sorted values (nearest rank, no interpolation); NaN if none."""
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def measures_table(rows: Sequence[tuple[str, str]]) -> str:
    """A `measure  figure` table, the names padded to the longest."""
    width = max(len(name) for name, _ in rows)
    lines = [f"{'measure':<{width}}  figure", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)
