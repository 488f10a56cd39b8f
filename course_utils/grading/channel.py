"""The record channel: a learner's answers stream to the grader through a pipe the grader owns.

In record mode, ``check`` writes one JSON line per case to ``$COURSE_RECORD``
(:func:`course_utils.checks.answers.write_record`). Here that is ``fd:N``,
the write end of a pipe that the kernel inherited; a thread of the grader
reads the other end while the notebook runs. A record is in the grader's
memory as soon as it is written: nothing the kernel does later can rewrite
it, redirect it (there is no file to replace by a link) or block the grader.

Each record belongs to the test cell that was running when it arrived. The
runner opens a *window* when a test cell starts and closes it when the cell
has finished; both first drain the pipe, so that what an earlier cell wrote
stays out of the window and what the test cell wrote is in it. Only lines of
the window's own exercise count; bytes that arrive outside every window (the
learner's own cells, a thread they started) are read and dropped. A window
holds at most ``MAX_WINDOW_BYTES`` and a record line at most ``MAX_RECORD_BYTES``
(:mod:`course_utils.checks.answers`): past either, the window is *oversized*
and none of its records is read. Lines are parsed when the window closes.

>>> channel = RecordChannel()
>>> channel.open_window(3)
>>> _ = os.write(channel.write_fd, b'{"exercise": "demo.f", "case": {}, "hidden": false, "status": "ok", "value": 1}\\n')
>>> channel.close_window()
>>> _ = os.write(channel.write_fd, b'{"exercise": "demo.f", "case": {}, "hidden": false, "status": "ok", "value": 2}\\n')
>>> channel.close()
>>> [record["value"] for record in channel.records({3: "demo.f"})]
[1]
"""

from __future__ import annotations

import os
import select
import threading

from course_utils.checks.answers import MAX_RECORD_BYTES, RECORD_FD, parse_record

MAX_WINDOW_BYTES = 4 * 2**20    # the answers of one test cell, all cases together (a lab's: < 0.1 MB)


class RecordChannel:
    """A pipe from one kernel to the grader, read continuously, cut into windows (see the module doc)."""

    def __init__(self):
        self._read_fd, self.write_fd = os.pipe()  # neither inheritable: the kernel gets the write end by pass_fds
        os.set_blocking(self._read_fd, False)
        self._lock = threading.Lock()
        self._window: int | None = None
        self._data = bytearray()                      # what the open window received so far
        self._records: dict[int, list[dict]] = {}     # closed windows' records
        self.oversized: set[int] = set()              # windows with too much data or too long a line
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read_continuously, daemon=True, name="record-channel")
        self._reader.start()

    @property
    def target(self) -> str:
        """The value of ``$COURSE_RECORD`` for the kernel."""
        return f"{RECORD_FD}{self.write_fd}"

    def release_writer(self) -> None:
        """Close the grader's copy of the write end (once the kernel has inherited it)."""
        with self._lock:
            if self.write_fd >= 0:
                os.close(self.write_fd)
                self.write_fd = -1

    def open_window(self, cell_index: int) -> None:
        with self._lock:
            self._drain()
            self._window = cell_index
            self._data = bytearray()

    def close_window(self) -> None:
        with self._lock:
            self._drain()
            self._end_window()

    def _end_window(self) -> None:
        """Parse the open window's complete lines (the last piece, with no newline, is incomplete)."""
        if self._window is None:
            return
        lines = bytes(self._data).split(b"\n")[:-1]
        if any(len(line) > MAX_RECORD_BYTES for line in lines):
            self.oversized.add(self._window)
        if self._window not in self.oversized:
            self._records[self._window] = [r for r in map(parse_record, lines) if r is not None]
        self._window, self._data = None, bytearray()

    def hooks(self, test_cells: set[int]) -> dict:
        """nbclient cell hooks that open a window for each of ``test_cells`` while it runs."""
        def on_cell_execute(cell=None, cell_index=None, **_):
            if cell_index in test_cells:
                self.open_window(cell_index)

        def on_cell_executed(cell=None, cell_index=None, **_):
            if cell_index in test_cells:
                self.close_window()

        return {"on_cell_execute": on_cell_execute, "on_cell_executed": on_cell_executed}

    def close(self) -> None:
        """Stop reading (the kernel is gone) and close the pipe."""
        self._done.set()
        self._reader.join(timeout=5)
        self.release_writer()
        with self._lock:
            self._drain()
            self._end_window()  # a test cell that never finished (the kernel died): what it sent counts
            if self._read_fd >= 0:
                os.close(self._read_fd)
                self._read_fd = -1

    def records(self, exercise_of: dict[int, str]) -> list[dict]:
        """The records of each window that answer its cell's own exercise, in cell order."""
        return [record for index, records in sorted(self._records.items()) for record in records
                if record["exercise"] == exercise_of.get(index)]

    def _read_continuously(self) -> None:
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while not self._done.is_set():
            events = poller.poll(100)
            if events:
                with self._lock:
                    if self._read_fd < 0 or self._drain():
                        return

    def _drain(self) -> bool:
        """Read what the pipe holds now into the open window (or nowhere); True at end of file."""
        while self._read_fd >= 0:
            try:
                chunk = os.read(self._read_fd, 2**16)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            if self._window is None or self._window in self.oversized:
                continue
            if len(self._data) + len(chunk) > MAX_WINDOW_BYTES:
                self.oversized.add(self._window)
                self._data = bytearray()
                continue
            self._data += chunk
        return True


