"""Benchmarks: each module prints figures for README.md and docs/; run one from the repository
root as ``python -m bench.NAME`` (``python -m bench.NAME --help`` gives its options).

SHARED_DATA is the real material they measure on by default: the Million Song Subset's song
files, the tagtraum CD1 labels, the Last.fm dataset and the list of mismatched tracks, in the
shared folder beside the checkout.
"""
import platform
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo where there is one), for the machine line a
    benchmark's page carries."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            name = next((line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name")), "")
    except OSError:
        name = ""
    return name or platform.processor() or platform.machine()
