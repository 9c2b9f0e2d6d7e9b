"""Files a user keeps are written whole or not at all.

Usage:
    with outputs.atomic_output("runs/main/model.pt") as temporary:
        torch.save(checkpoint, temporary)      # renamed to model.pt only if this succeeds
"""
import contextlib
import os
import shutil
import tempfile
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


@contextlib.contextmanager
def atomic_folder(path):
    """Yield a new, empty folder beside ``path``; when the block succeeds it takes the place of
    ``path`` as a whole (replace_folder), so readers see the earlier folder or the new one,
    never a mix. An OSError becomes OutputError naming ``path``; on any failure the new folder
    is removed and ``path`` is left as it was."""
    path = Path(path)
    staging = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                        dir=path.parent))
        yield staging
        replace_folder(staging, path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write it ({err.strerror}: {err.filename})") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def replace_folder(new, target):
    """Put the folder ``new`` in the place of ``target`` (which may not exist)."""
    target = Path(target)
    if not target.exists():
        os.replace(new, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, aside / target.name)
    os.replace(new, target)
    shutil.rmtree(aside, ignore_errors=True)
