"""Files a user keeps are written whole or not at all.

Usage:
    with outputs.atomic_output("runs/main/model.pt") as temporary:
        torch.save(checkpoint, temporary)      # renamed to model.pt only if this succeeds
"""
import contextlib
import os
from pathlib import Path


class OutputError(Exception):
    """An output that cannot be written: a path under a file, no permission, a full disk, or an
    existing output of another kind in the way."""


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    An OSError while writing becomes OutputError naming ``path``.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        os.replace(temporary, path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write it ({err.strerror}: {err.filename})") from None
    finally:
        # Not only FileNotFoundError: under a file, unlink raises NotADirectoryError.
        with contextlib.suppress(OSError):
            temporary.unlink()
