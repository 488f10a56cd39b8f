"""What the grader reads from the submissions folder, read without trusting it.

A submissions folder is made of what learners uploaded: a notebook may be a
symbolic link (to the instructor's solution, to ``/dev/zero``, to another
learner's file), a FIFO that blocks whoever opens it, a device, or a huge
file; a student's folder may be a link to another student's. The grader opens
every file under it with ``O_NOFOLLOW`` at every level of the path (a link is
never followed, wherever it is), checks that what it opened is a regular file
or a real folder, and reads at most a fixed number of bytes. Names become
columns of the gradebook and folders of the feedback: a name that could not
be a folder name is reported, never split or silently changed.

>>> name_problem("alice"), name_problem("=HYPERLINK(x)"), name_problem("a\\nb")
('', '', 'it contains a control character')
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path


class NotRegular(Exception):
    """A path that is a symbolic link, a FIFO, a device... where a regular file or a folder was expected."""


class TooLarge(Exception):
    """A file larger than the grader reads."""


def kind_of(path: Path) -> str:
    """What ``path`` is, without following a link: "file", "folder", "link", "fifo", "device", "socket"..."""
    return _kind(os.lstat(path).st_mode)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "folder"), (stat.S_ISLNK, "link"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


WHAT = {"file": "a file, not a folder", "link": "a symbolic link", "fifo": "a FIFO (named pipe)", "device": "a device", "socket": "a socket",
        "special file": "a special file", "folder": "a folder"}


def read_under(root: Path, relative: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``root/relative``, following no link on the way.

    Raises :class:`NotRegular` when any part of ``relative`` is a link or the file is not a regular
    file (a FIFO is opened without blocking and refused), :class:`TooLarge` past ``max_bytes``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "a").mkdir(); _ = (folder / "a" / "nb.ipynb").write_text("{}")
    >>> (folder / "b").symlink_to(folder / "a")
    >>> read_under(folder, Path("a/nb.ipynb"), 100)
    b'{}'
    >>> read_under(folder, Path("b/nb.ipynb"), 100)
    Traceback (most recent call last):
    ...
    course_utils.grading.files.NotRegular: b is a symbolic link
    """
    parts = Path(relative).parts
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise NotRegular(f"{relative} is not a path inside the submissions")
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                fd = os.open(part, flags, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO, errno.EMLINK):
                    shown = os.path.join(*parts[:index + 1])
                    kind = _kind_at(folder, part)
                    raise NotRegular(f"{shown} is {WHAT.get(kind, 'not a regular file')}") from None
                raise
            os.close(folder)
            folder = fd
        info = os.fstat(folder)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(f"{relative} is {WHAT[_kind(info.st_mode)]}")
        if info.st_size > max_bytes:
            raise TooLarge(f"{relative} is larger than {max_bytes // 2**20} MB")
        chunks, size = [], 0
        while True:
            chunk = os.read(folder, min(2**20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:  # a file that grows while it is read
                raise TooLarge(f"{relative} is larger than {max_bytes // 2**20} MB")
        return b"".join(chunks)
    finally:
        os.close(folder)


def _kind_at(folder_fd: int, name: str) -> str:
    try:
        return _kind(os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode)
    except OSError:
        return "special file"


def name_problem(name: str) -> str:
    """Why ``name`` (a student's, an assignment's or a notebook's) cannot be used as a folder name and a
    gradebook cell as it is; ``""`` when it can.

    >>> name_problem("Zoë Ng"), name_problem("a\\u202eb"), name_problem("x" * 300)
    ('', 'it contains an invisible formatting character', 'it is longer than 255 bytes')
    """
    if name in ("", ".", ".."):
        return "it is empty or a relative folder"
    if "/" in name or "\\" in name:
        return "it contains a slash"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if len(encoded) > 255:
        return "it is longer than 255 bytes"
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            return "it contains a control character"
        if category in ("Cf", "Zl", "Zp"):
            return "it contains an invisible formatting character"
    return ""


def shown_name(name: str) -> str:
    """A name as it can be shown and written anywhere: a name with a problem is escaped like a Python
    bytes literal (``a\\nb``, ``\\xff``, a slash as ``\\x2f``), so that two names never look the same.

    >>> shown_name("a\\nb/c"), shown_name("Zoë")
    ('a\\\\nb\\\\x2fc', 'Zoë')
    """
    if not name_problem(name):
        return name
    return repr(name.encode("utf-8", "surrogateescape"))[2:-1].replace("/", "\\x2f")
