"""Faults: what goes wrong outside the input, said in one line that names the path.

Bad input (a file, key or option to fix) is an :class:`~sim.tomlfile.InputError`
(exit status 2). A *fault* is the machine's or the results folder's: a folder that
cannot be written, a full disk, a damaged ``experiment.json``, a scheduler that does
not answer. It is a :class:`Fault` (exit status 3), and where the work done so far
is kept, its message ends with "rerun the same command to resume".
"""

from __future__ import annotations

import errno
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sim.tomlfile import InputError

RESUME = "rerun the same command to resume"


class Fault(Exception):
    """A problem outside the input, with the path (or address) it concerns."""

    def __init__(self, path: str | Path, message: str, *, resumable: bool = False) -> None:
        self.path, self.message, self.resumable = str(path), message, resumable
        text = f"{self.path}: {message}"
        if resumable:
            text += f"; {RESUME}"
        super().__init__(text)


def os_reason(e: OSError) -> str:
    """An operating-system error in a few words (no path, no errno number)."""
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENAMETOOLONG: "the file name is too long",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EISDIR: "is a folder",
        errno.ELOOP: "a symbolic link that loops",
        errno.EIO: "input/output error",
    }
    return reasons.get(e.errno, e.strerror or str(e))


def os_fault(
    e: OSError, what: str = "cannot write", *, where: str | Path = "?", resumable: bool = False
) -> Fault:
    """A :class:`Fault` for ``e``, naming the file it was about (else ``where``)."""
    path = e.filename if e.filename is not None else where
    return Fault(path, f"{what}: {os_reason(e)}", resumable=resumable)


# Errors that say the path itself is wrong (a file where a folder should be, a name too
# long), not that the machine refused: these are bad input.
BAD_PATH_ERRNOS = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EEXIST)


def check_writable(folder: Path) -> list[Path]:
    """Make ``folder`` (and its parents) if need be, and prove a file can be written in it.

    Returns the folders it made (so a caller that gives up can remove them). Raises
    :class:`Fault` naming the folder if it cannot be made or written (permissions, a
    read-only or full file system), or :class:`~sim.tomlfile.InputError` if the path
    cannot be a folder (a file in the way, a name too long), having removed what it made.
    The probe is a real write, not ``os.access``: root passes every permission check,
    but not a read-only file system.
    """
    folder = Path(folder)
    made: list[Path] = []
    probe = folder / f".yjsim-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        missing = folder
        while not os.path.lexists(missing) and missing != missing.parent:
            made.insert(0, missing)  # parents first
            missing = missing.parent
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"x")
        probe.unlink()
    except OSError as e:
        remove_made(made)
        if e.errno in BAD_PATH_ERRNOS:  # the path given is wrong: bad input, exit 2
            raise InputError(folder, "", f"cannot be a folder: {os_reason(e)}") from None
        raise Fault(folder, f"cannot write here: {os_reason(e)}") from None
    return made


def remove_made(made: list[Path]) -> None:
    """Remove folders :func:`check_writable` made, deepest first, if they are still empty."""
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            break


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """``write(tmp)`` to a temporary file in the same folder, then rename: whole or absent.

    The temporary name starts with "." and ends with ".tmp" (readers skip it; a batch
    sweeps leftovers). The file gets the permissions of any file the user creates (0666
    less the umask); ``mkstemp`` alone would leave it readable by its owner only.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
