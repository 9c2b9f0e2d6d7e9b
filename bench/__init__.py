"""Benchmarks: each module prints figures for README.md and docs/; run one from the repository
root as ``python -m bench.NAME`` (``python -m bench.NAME --help`` gives its options).

SHARED_DATA is the real material they measure on by default: the Million Song Subset's song
files, the tagtraum CD1 labels, the Last.fm dataset and the list of mismatched tracks, in the
shared folder beside the checkout.
"""
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
