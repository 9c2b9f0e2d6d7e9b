"""Shared fixtures: the real MSD material in ../shared/data and a place for generated song files."""
import pytest

from bench import SHARED_DATA


@pytest.fixture
def shared_data():
    """The real MSD material beside the repository; skips the test on a fresh clone without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real MSD data not found at {SHARED_DATA} "
                    "(present in CI, absent in a fresh clone)")
    return SHARED_DATA
