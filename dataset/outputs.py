"""Files a user keeps are written whole or not at all, and replace the earlier ones at once.

Usage:
    with outputs.atomic_output("runs/main/model.pt") as temporary:
        temporary.write_bytes(data)            # renamed to model.pt only if this succeeds
    with outputs.atomic_folder("runs/main") as run:
        ...                                    # write run/model.pt, ...: they land as one set
    outputs.replace_folder("runs/.main.new", "runs/main")   # the new folder, all at once
    raise outputs.cannot_write("data/SongCSV.csv", err)     # an OSError said in one line
"""
import contextlib
import ctypes
import errno
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dataset.errors import first_line

# Errors that only writing raises: one of them with no file name (a write to an open file) is
# the output's. Any OSError naming the output or its temporary file is the output's too.
WRITING_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
NO_SPACE = "free space or choose another place"
ANOTHER_PLACE = "choose another place"
# errno -> what it means for an output, and what to do about it.
REASONS = {
    errno.ENOSPC: ("no space left on device", NO_SPACE),
    errno.EDQUOT: ("disk quota exceeded", NO_SPACE),
    errno.EFBIG: ("too large a file for this file system", ANOTHER_PLACE),
    errno.EROFS: ("a read-only file system", ANOTHER_PLACE),
    errno.EACCES: ("permission denied", f"a read-only or protected folder: {ANOTHER_PLACE}"),
    errno.EPERM: ("permission denied", f"a read-only or protected folder: {ANOTHER_PLACE}"),
    errno.ENOTDIR: ("a file is in the way of its folder", ANOTHER_PLACE),
    errno.EEXIST: ("a file is in the way of its folder", ANOTHER_PLACE),
    errno.EISDIR: ("a folder is in the way", "move it away or choose another name"),
    errno.ENAMETOOLONG: ("too long a name", "choose a shorter one"),
}
# renameat2(2)'s arguments: paths relative to the working folder, swap the two.
AT_FDCWD = -100
RENAME_EXCHANGE = 2


class OutputError(Exception):
    """An output that cannot be written: a path under a file, no permission, a full disk, or an
    existing output of another kind in the way. From ``cannot_write``: ``path`` and the
    OSError ``os_error``."""
    path = None
    os_error = None


def cannot_write(path, err):
    """OutputError saying in one line that ``path`` cannot be written because of OSError ``err``,
    and what to do."""
    reason, remedy = REASONS.get(err.errno, (None, None))
    if reason is None:
        reason = err.strerror or first_line(err)
    error = OutputError(f"{path}: cannot write it: {reason}" + (f" ({remedy})" if remedy else ""))
    error.path, error.os_error = Path(path), err
    return error


@contextlib.contextmanager
def atomic_output(path):
    """Yield a new, empty temporary file's path beside ``path`` (a name no other run uses); it
    replaces ``path`` (os.replace: no moment without a whole file there) only if the block
    succeeds, and is deleted otherwise.

    An OSError from writing the output (one naming the temporary file or ``path``, or a full
    disk, a quota or a read-only file system with no file named) becomes OutputError naming
    ``path`` (``cannot_write``); any other OSError, as one reading an input inside the block,
    is raised as it is.
    """
    path = Path(path)
    temporary = _temporary_beside(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as err:
        if not _is_about(err, temporary, path):
            raise
        raise cannot_write(path, err) from None
    finally:
        # Not only FileNotFoundError (the temporary file renamed): a folder may have gone.
        with contextlib.suppress(OSError):
            temporary.unlink()


@contextlib.contextmanager
def atomic_folder(path):
    """Yield a new, empty folder beside ``path`` (a name no other run uses); when the block
    succeeds it takes the place of ``path`` as a whole (``replace_folder``), so readers see the
    earlier folder or the new one, never a mix. On any failure the new folder is removed and
    ``path`` is left as it was.

    An OSError from writing the folder (one naming a path in it, or a full disk, a quota or a
    read-only file system with no file named) becomes OutputError naming ``path``, as in
    ``atomic_output``; any other OSError is raised as it is.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                        dir=path.parent))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's are private (0o700)
    except OSError as err:
        raise cannot_write(path, err) from None
    try:
        try:
            yield staging
        except OSError as err:
            if not _is_about(err, path, inside=staging):
                raise
            raise cannot_write(path, err) from None
        except OutputError as err:  # a file of the run (atomic_output): named as the user's
            if err.path is None or not _is_inside(err.path, staging):
                raise
            raise cannot_write(path, err.os_error) from None
        try:
            replace_folder(staging, path)
        except OSError as err:
            raise cannot_write(path, err) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it took path's place


def _temporary_beside(path):
    """A new empty file in ``path``'s folder (made first), named after ``path`` and unique, with
    the permissions a new file gets; OutputError when it cannot be made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                            dir=path.parent)
        try:
            os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp's are private (0o600)
        finally:
            os.close(descriptor)
    except OSError as err:
        raise cannot_write(path, err) from None
    return Path(name)


def _umask():
    # Read by setting it: for the instant between, files this process makes are not masked.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_about(err, *paths, inside=None):
    """Whether OSError ``err`` is about writing one of ``paths`` or a path in the folder
    ``inside``: it names one, or it names no file and only writing raises it."""
    if not isinstance(err.filename, (str, bytes, os.PathLike)):  # None, or a descriptor
        return err.errno in WRITING_ERRNOS
    named = Path(os.path.abspath(os.fsdecode(err.filename)))
    return (any(named == Path(os.path.abspath(path)) for path in paths)
            or (inside is not None and _is_inside(named, inside)))


def _is_inside(path, folder):
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


def replace_folder(new, target):
    """Put the folder ``new`` where the folder ``target`` is (both on one file system), with no
    moment at which ``target`` is missing or mixes the two, then delete the old folder; when
    ``target`` does not exist, ``new`` is renamed to it.

    On Linux the two are swapped at once (renameat2's RENAME_EXCHANGE). Where that is not
    available (another system, an old C library, a file system that refuses it) the old folder
    is renamed aside first, leaving ``target`` missing for a moment. Raises OSError when the
    new folder could not be put in place; an old one that cannot be deleted once it is, is
    left (under ``new``'s name, or a hidden one beside ``target``).
    """
    if not os.path.lexists(target):
        os.replace(new, target)
        return
    if _exchange(new, target):
        old = new  # the old folder, now under the new one's name
    else:
        old = tempfile.mkdtemp(prefix=f".{Path(target).name}.", suffix=".old",
                               dir=Path(target).parent)
        os.replace(target, old)  # over the empty folder mkdtemp made
        try:
            os.replace(new, target)
        except OSError:
            os.replace(old, target)
            raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(first, second):
    """Swap the paths ``first`` and ``second`` at once; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second),
                 RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # refused by the file system
        return False
    raise OSError(number, os.strerror(number), os.fsdecode(first), None, os.fsdecode(second))


@functools.cache
def _renameat2():
    """The C library's renameat2 (glibc 2.28 on), or None."""
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                             ctypes.c_uint]
        function.restype = ctypes.c_int
    return function
