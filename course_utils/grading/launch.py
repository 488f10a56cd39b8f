"""Start a kernel under a memory limit: ``python -m course_utils.grading.launch MB -- COMMAND...``.

The limit is ``RLIMIT_DATA`` (the heap and private mappings): an allocation
beyond it raises ``MemoryError`` inside the kernel instead of taking the
machine down. The command then replaces this process (``exec``), keeping the
limit.
"""

from __future__ import annotations

import os
import resource
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m course_utils.grading.launch MEMORY_MB -- COMMAND [ARGS...]")
    limit = int(argv[0]) * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps from a crashing submission
    if os.getppid() == 1:
        # In the sandbox's PID namespace our parent is its init process: the kernel
        # must not take that for "the frontend has exited" and shut itself down.
        os.environ.pop("JPY_PARENT_PID", None)
    command = argv[2:]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
