"""Resource limits that hold for a submission's whole process tree, not process by process.

Each graded kernel gets a memory limit for all its processes together (shared
memory and the files of its private ``/tmp`` and ``/dev/shm`` included), a
limit on its number of processes and threads, and no core dumps. Its ``/tmp``
and ``/dev/shm`` are size-capped in memory (:mod:`.sandbox`): it has no disk
to fill.

*Where the machine allows it* (a writable cgroup hierarchy: the v1 ``memory``
and ``pids`` hierarchies, or cgroup v2 with both controllers delegated), each
kernel runs in its own control group, created below the grader's own. The
kernel's first process joins it before anything else runs: the sandbox
command is prefixed with ``python limits.py --join DIR ... -- COMMAND``, which
enters the groups, sets the rlimits and executes ``COMMAND``. Every process the
kernel forks is counted, and Linux enforces the limits (the OOM killer,
``pids.max``).

*Elsewhere* (containers without cgroup delegation) the fallback is a watchdog
thread in the grader that, five times a second, counts the threads of every
process of the sandbox and adds up their private and shared memory (each page
once, ``Pss_Anon + Pss_Shmem``), and kills the whole sandbox past a limit. A
burst between two looks can exceed the limit for a fifth of a second, and the
files of the private ``/tmp`` and ``/dev/shm`` are bounded by their size, not
counted.

In both cases every process also has ``RLIMIT_DATA`` (its private address
space) at the memory limit, so that the usual memory bomb (one process
allocating in a loop) gets a ``MemoryError`` in the notebook rather than a
killed kernel -- but never below ``MIN_DATA_MB``: libraries reserve address
space they never touch, and a kernel that has imported torch has about 1 GB of
private address space for 0.4 GB of memory in use.

>>> Limits(memory_mb=700).data_mb, Limits(memory_mb=2048).data_mb
(1536, 2048)
"""

from __future__ import annotations

import itertools
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MEMORY, PROCESSES = "memory", "processes"   # the limit a kernel was stopped at
WATCH_INTERVAL = 0.2                         # seconds between two looks of the fallback watchdog
MIN_DATA_MB = 1536                           # RLIMIT_DATA = the memory limit, never below this


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048     # all the kernel's processes together
    processes: int = 256      # processes and threads
    tmp_mb: int = 512         # the private /tmp (the scratch folder is in it)
    shm_mb: int = 64          # the private /dev/shm

    @property
    def data_mb(self) -> int:
        """Each process's ``RLIMIT_DATA``, in MB."""
        return max(self.memory_mb, MIN_DATA_MB)


# -- the launcher: join the groups, set the rlimits, execute the command ---------------------------

def main(argv: list[str]) -> None:
    """``python limits.py --data-mb M [--join CGROUP_DIR]... -- COMMAND [ARGS...]``."""
    if "--" not in argv or "--data-mb" not in argv:
        raise SystemExit("usage: python limits.py --data-mb M [--join CGROUP_DIR]... -- COMMAND [ARGS...]")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    for option, value in zip(options, options[1:]):
        if option == "--join":
            Path(value, "cgroup.procs").write_text(str(os.getpid()))
    limit = int(options[options.index("--data-mb") + 1]) * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps from a crashing submission
    os.execvp(command[0], command)


# -- a writable cgroup hierarchy -------------------------------------------------------------------

@dataclass(frozen=True)
class Hierarchy:
    """The grader's own control groups, below which each kernel gets its own."""

    version: int
    memory: Path   # in v2 the same folder as ``pids``
    pids: Path

    def describe(self) -> str:
        return f"cgroup v{self.version}"


def find_hierarchy(mountinfo: str | None = None, own: str | None = None, writable=None) -> Hierarchy | None:
    """The grader's own groups, if it may create groups below them with both controllers; else None.

    ``mountinfo`` and ``own`` are the texts of ``/proc/self/mountinfo`` and ``/proc/self/cgroup``, and
    ``writable(path)`` says whether a group folder is writable (all read from the system when not given).

    >>> mounts = ("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\\n"
    ...           "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\\n")
    >>> h = find_hierarchy(mounts, "8:pids:/\\n4:memory:/jobs/42\\n0::/\\n", writable=lambda path: True)
    >>> h.version, str(h.memory), str(h.pids)
    (1, '/sys/fs/cgroup/memory/jobs/42', '/sys/fs/cgroup/pids')
    >>> find_hierarchy(mounts, "4:memory:/jobs/42\\n", writable=lambda path: True) is None  # no pids group
    True
    """
    writable = writable or (lambda path: os.access(path, os.W_OK))
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text() if mountinfo is None else mountinfo
        own = Path("/proc/self/cgroup").read_text() if own is None else own
    except OSError:
        return None
    v1: dict[str, tuple[str, str]] = {}
    v2 = None
    for line in mountinfo.splitlines():
        if " - " not in line:
            continue
        before, after = line.split(" - ", 1)
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or not tail:
            continue
        if tail[0] == "cgroup2":
            v2 = (fields[3], fields[4])
        elif tail[0] == "cgroup" and len(tail) >= 3:
            for option in tail[2].split(","):
                v1[option] = (fields[3], fields[4])
    groups: dict[str, str] = {}
    for line in own.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                groups[controller] = parts[2]
    if all(c in v1 and c in groups for c in ("memory", "pids")):
        memory, pids = (_below(*v1[c], groups[c]) for c in ("memory", "pids"))
        if writable(memory) and writable(pids):
            return Hierarchy(1, memory, pids)
    if v2 is not None and "" in groups:
        group = _below(*v2, groups[""])
        try:
            delegated = set((group / "cgroup.subtree_control").read_text().split())
        except OSError:
            delegated = set()
        if {"memory", "pids"} <= delegated and writable(group):
            return Hierarchy(2, group, group)
    return None


def _below(mount_root: str, mount_point: str, path: str) -> Path:
    relative = os.path.relpath(path, mount_root) if path.startswith(mount_root) else path.lstrip("/")
    return Path(mount_point) / ("" if relative == "." else relative)


# -- one kernel's limits ---------------------------------------------------------------------------

class Enforcer:
    """Limits for every kernel of one ``course grade`` run: a cgroup each, or the watchdog.

    ``Enforcer(limits).session()`` gives one kernel's :class:`Session`.
    """

    def __init__(self, limits: Limits, hierarchy: Hierarchy | None = None, use_cgroups: bool = True):
        self.limits = limits
        self.hierarchy = (hierarchy or find_hierarchy()) if use_cgroups else None
        self._names = itertools.count(1)
        if self.hierarchy is not None:
            remove_stale_groups(self.hierarchy)

    def describe(self) -> str:
        """How the limits are enforced, for ``course grade``'s opening line."""
        if self.hierarchy is not None:
            return f"memory and processes limited per notebook by {self.hierarchy.describe()}"
        return "memory and processes limited per notebook by a watchdog (no writable cgroup here)"

    def session(self) -> "Session":
        groups: list[Path] = []
        if self.hierarchy is not None:
            try:
                groups = _create_groups(self.hierarchy, f"{GROUP_PREFIX}{os.getpid()}-{next(self._names)}",
                                        self.limits)
            except OSError:  # e.g. a group limit reached: this kernel is watched instead
                groups = []
        return Session(self.limits, groups)


GROUP_PREFIX = "course-grade-"   # a kernel's group: course-grade-<grader's pid>-<n>


def remove_stale_groups(hierarchy: Hierarchy) -> None:
    """Remove the groups of graders that no longer run (killed before they could clean up), with any
    process still in them."""
    for base in {hierarchy.memory, hierarchy.pids}:
        for group in base.glob(f"{GROUP_PREFIX}*-*"):
            grader = group.name[len(GROUP_PREFIX):].split("-")[0]
            if grader.isdigit() and not Path(f"/proc/{grader}").exists():
                _empty_and_remove([group], seconds=2)


def _create_groups(hierarchy: Hierarchy, name: str, limits: Limits) -> list[Path]:
    """The kernel's group (v2) or groups (v1 memory and pids), with their limits set."""
    memory = limits.memory_mb * 2**20
    groups = [hierarchy.memory / name] if hierarchy.version == 2 else [hierarchy.memory / name, hierarchy.pids / name]
    created = []
    try:
        for group in groups:
            group.mkdir()
            created.append(group)
        if hierarchy.version == 2:
            _write(groups[0] / "memory.max", memory)
            _write(groups[0] / "memory.swap.max", 0, optional=True)
        else:
            _write(groups[0] / "memory.limit_in_bytes", memory)
            _write(groups[0] / "memory.memsw.limit_in_bytes", memory, optional=True)  # no swapping around it
        _write(groups[-1] / "pids.max", limits.processes)
    except OSError:
        for group in created:
            group.rmdir()
        raise
    return groups


def _write(path: Path, value: int, optional: bool = False) -> None:
    try:
        path.write_text(str(value))
    except OSError:
        if not optional:
            raise


class Session:
    """One kernel's limits: the command prefix that applies them, and what happened."""

    def __init__(self, limits: Limits, groups: list[Path]):
        self.limits = limits
        self.groups = groups
        self.stopped_at = ""          # MEMORY or PROCESSES once the kernel was stopped at a limit
        self._watching: threading.Thread | None = None
        self._stop = threading.Event()

    def prefix(self) -> list[str]:
        """``python limits.py --data-mb M --join DIR... --``, to put before the sandbox command."""
        joins = [item for group in self.groups for item in ("--join", str(group))]
        return [sys.executable, "-I", "-S", str(Path(__file__).resolve()), "--data-mb", str(self.limits.data_mb),
                *joins, "--"]

    def join(self, pid: int) -> None:
        """Put process ``pid`` in the groups, before it runs anything (a warm kernel's fork, which the
        prefix cannot reach: :mod:`.warm`)."""
        for group in self.groups:
            (group / "cgroup.procs").write_text(str(pid))

    def watch(self, pid: int) -> None:
        """Once the sandbox runs as process ``pid``: start the watchdog if there is no cgroup."""
        if not self.groups and self._watching is None:
            self._watching = threading.Thread(target=self._watch, args=(pid,), daemon=True,
                                              name=f"limits-watchdog-{pid}")
            self._watching.start()

    def _watch(self, pid: int) -> None:
        while not self._stop.wait(WATCH_INTERVAL):
            tree = process_tree(pid)
            if not tree:
                return
            if tree_tasks(tree) > self.limits.processes:
                self.stopped_at = PROCESSES
            elif tree_memory(tree) > self.limits.memory_mb * 2**20:
                self.stopped_at = MEMORY
            if self.stopped_at:
                _kill(pid)
                return

    def finish(self) -> str:
        """After the kernel's shutdown: kill whatever is left, remove the groups. Returns ``stopped_at``."""
        self._stop.set()
        if self._watching is not None:
            self._watching.join(timeout=5)
        if self.groups:
            if not self.stopped_at:
                self.stopped_at = self._limit_hit()
            _empty_and_remove(self.groups)
        return self.stopped_at

    def _limit_hit(self) -> str:
        events = {}
        for group in self.groups:
            for name in ("memory.events", "memory.oom_control", "pids.events"):
                try:
                    for line in (group / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        events[f"{name}:{key}"] = int(value or 0)
                except (OSError, ValueError):
                    continue
        if events.get("memory.events:oom_kill") or events.get("memory.oom_control:oom_kill"):
            return MEMORY
        if events.get("pids.events:max"):
            return PROCESSES
        return ""


def _empty_and_remove(groups: list[Path], seconds: float = 10.0) -> None:
    """Kill every process still in the groups (until none is left), then remove them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = set()
        for group in groups:
            try:
                pids |= {int(p) for p in (group / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        if not pids:
            break
        for pid in pids:
            _kill(pid)
        time.sleep(0.05)
    for group in groups:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:  # zombies not reaped yet
                time.sleep(0.1)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- the watchdog's view of a process tree ---------------------------------------------------------

def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (daemons that double-forked inside the sandbox included: they
    are reparented to the sandbox's own init, which descends from ``root``).

    >>> process_tree(os.getpid())[0] == os.getpid()
    True
    """
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    if not Path(f"/proc/{root}").exists():
        return []
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue += children.get(pid, [])
    return tree


def tree_tasks(pids: list[int]) -> int:
    """The number of threads of these processes together."""
    return sum(_status_field(pid, "Threads") for pid in pids)


def tree_memory(pids: list[int]) -> int:
    """Bytes of private and shared memory these processes use together, each page counted once (a page
    shared by several processes, as after a fork, is split between them: ``Pss_Anon + Pss_Shmem``)."""
    total = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            key, _, value = line.partition(":")
            if key in ("Pss_Anon", "Pss_Shmem"):
                total += int(value.split()[0]) * 1024
    return total


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
