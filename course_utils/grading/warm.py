"""Warm kernels: a zygote per worker pays Python's start and the heavy imports once; each submission's
kernel is a fork of it that enters a sandbox of its own before any learner code runs.

``course grade --kernels warm`` (the default where the machine allows it). The zygote runs in the same
bubblewrap view as a cold kernel (:meth:`.sandbox.Sandbox.mounts`: Python, the virtual environment,
the package folder, ``/usr``; no checkout, no ``$HOME``, no network), as root of its own user
namespace with ``CAP_SYS_ADMIN`` and ``CAP_SETFCAP`` there and nothing else, and it imports numpy, torch, torchvision,
scikit-learn, matplotlib, IPython's kernel and ``course_utils``. It never runs learner code. For each
submission the grader sends it, over a socket pair, the kernel's environment, its connection file
and its file descriptors (the five listening ZeroMQ sockets and the record pipe, :mod:`.kernel`,
:mod:`.channel`); the zygote forks, and the fork:

1. sends a hello on a socket of its own, from which the grader learns its process id (the kernel
   adds the sender's credentials) and puts it in the submission's control groups (:mod:`.limits`);
   only then, on the grader's "go", does it go on. Everything it forks from now on is in the groups;
2. sets its rlimits, closes every other file descriptor, and unshares mount, PID, network, IPC, UTS
   and cgroup namespaces; its child is the init (PID 1) of the new PID namespace, which dies with it;
3. the init mounts a fresh ``/proc`` (``/proc/sys`` and the others read-only, as bubblewrap does),
   a private ``/tmp`` (with the scratch folder and the font cache) and ``/dev/shm`` of the sandbox's
   sizes, a new ``/dev/pts``, and ``/run/kernel.json`` read-only; then forks the kernel (PID 2);
4. the kernel enters a user namespace of its own as user 1000, where no further user namespace can be
   made (``max_user_namespaces`` 0), drops every capability (bounding set included) with
   ``no_new_privs``, takes the kernel's environment, reseeds its random generators, and starts
   the IPython kernel on the inherited sockets (:func:`.kernel.main`).

When the kernel exits, the init exits and the namespace with everything in it is gone; when the
grader kills the fork, the init dies with it (``PR_SET_PDEATHSIG``), and so does the namespace. The
kernel sees what a cold kernel sees, which ``tests/test_warm.py`` compares.

Example (the grader's side)::

    zygote = Zygote(sandbox)            # seconds: imports, once per worker
    child = zygote.spawn(env, fds, connection_text, limits, joined=session.join)
    child.pid, child.poll()             # (12345, None): a Popen-like handle for jupyter_client
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable

SCRATCH = "/tmp/scratch"
CONNECTION_FILE = "/run/kernel.json"
SANDBOX_UID = 1000
CONTROL_ENV = "COURSE_ZYGOTE_FD"
PRELOAD = ("numpy", "scipy", "torch", "torchvision", "sklearn", "sklearn.linear_model", "sklearn.model_selection",
           "sklearn.preprocessing", "sklearn.metrics", "sklearn.neighbors", "matplotlib", "matplotlib.figure",
           "matplotlib.font_manager", "pandas", "zmq", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel",
           "course_utils", "course_utils.checks", "course_utils.data", "course_utils.train", "course_utils.stats",
           "course_utils.grading.kernel")
READY, HELLO, MAP, GO = b"ready", b"hello", b"map", b"go"
START_TIMEOUT = 300   # seconds for a zygote's imports (a busy machine)
SPAWN_TIMEOUT = 60    # seconds for a fork to say hello

# Linux constants (linux/sched.h, linux/mount.h, linux/prctl.h, linux/capability.h)
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = \
    1, 2, 4, 8, 32, 4096, 8192, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL, CAPABILITY_VERSION_3 = 4, 0x20080522
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")   # read-only in a sandbox's /proc, as bubblewrap does

_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unshare(flags: int) -> None:
    _call(_libc.unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None
    _call(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
          f"mount {target}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _call(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0), f"prctl {option}")


# -- the grader's side -----------------------------------------------------------------------------

def zygote_namespaces() -> list[str]:
    """bubblewrap's namespace options for a zygote: root of its own user namespace, with ``CAP_SYS_ADMIN``
    (to give each fork its namespaces and mounts) and ``CAP_SETFCAP`` (to map the kernel's user 1000 onto
    its own) there alone, no network, dies with its worker."""
    return ["--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--cap-drop", "ALL",
            "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETFCAP", "--hostname", "sandbox", "--die-with-parent", "--new-session"]


@lru_cache(maxsize=1)
def warm_problem() -> str:
    """Empty when a fork can enter its own sandbox here (namespaces, mounts, a nested user namespace),
    else why not (one line)."""
    from course_utils.grading.bwrap import _system_mounts, bwrap_path, sandbox_problem, software_paths

    problem = sandbox_problem()
    if problem:
        return problem
    if not hasattr(os, "pidfd_open") or not hasattr(socket, "SCM_CREDENTIALS"):
        return "this Python or OS has no pidfd_open or SCM_CREDENTIALS"
    args = [bwrap_path(), *zygote_namespaces(), *_system_mounts(), "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp"]
    here = str(Path(__file__).resolve())
    for path in software_paths():
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", here, "/run/warm.py", "--", sys.executable, "-I", "-S", "/run/warm.py", "--probe"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the probe did not run ({exc})"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"a fork cannot enter its own namespaces here ({last})"
    return ""


class Child:
    """A fork of the zygote, seen from the grader: the ``subprocess.Popen`` methods jupyter_client uses.

    The grader is not its parent (the zygote is): it follows it by a pidfd, so that a process id reused
    after its end is never signalled.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self.returncode: int | None = None
        self._killed = False

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd >= 0:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            if readable:
                self.returncode = -signal.SIGKILL if self._killed else 0
                os.close(self._pidfd)
                self._pidfd = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None:
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            self._killed = self._killed or signum == signal.SIGKILL
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def __del__(self):
        if getattr(self, "_pidfd", -1) >= 0:
            os.close(self._pidfd)


def _log():
    """Where zygotes and their kernels write their stderr: nowhere, or the file ``$COURSE_ZYGOTE_LOG``
    (the grader's, for debugging)."""
    path = os.environ.get("COURSE_ZYGOTE_LOG")
    return open(path, "ab") if path else subprocess.DEVNULL


class Zygote:
    """One worker's zygote: started at once (its imports take seconds), then :meth:`spawn` per kernel.

    ``argv`` is the bubblewrap command that runs ``python -m course_utils.grading.warm`` in the
    zygote's sandbox; ``env`` its environment (the kernel's, scrubbed).
    """

    def __init__(self, argv: list[str], env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        self.process = subprocess.Popen(argv, env={**env, CONTROL_ENV: str(theirs.fileno())},
                                        pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=_log(), cwd="/")
        theirs.close()
        ours.settimeout(START_TIMEOUT)
        try:
            ready = ours.recv(64)
        except OSError:
            ready = b""
        if ready != READY:
            self.close()
            raise RuntimeError("the warm-kernel zygote did not start")
        ours.settimeout(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, env: dict[str, str], fds: tuple[int, ...], connection: str, *, data_mb: int, tmp_mb: int,
              shm_mb: int, arguments: list[str] = (), joined: Callable[[int], None] = lambda pid: None) -> Child:
        """A fork of the zygote that becomes a kernel in its own sandbox. ``fds`` are inherited under the
        same numbers; ``arguments`` are the kernel's command-line options after ``-f FILE``;
        ``joined(pid)`` runs once the fork exists and before it goes on (to put it in its control groups)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            request = {"env": env, "fds": list(fds), "connection": connection, "arguments": list(arguments),
                       "data_mb": data_mb, "tmp_mb": tmp_mb, "shm_mb": shm_mb, "keep": kept_under_tmp()}
            socket.send_fds(self._control, [json.dumps(request).encode()], [theirs.fileno(), *fds])
            theirs.close()
            ours.settimeout(SPAWN_TIMEOUT)
            message, ancillary, _, _ = ours.recvmsg(16, socket.CMSG_SPACE(struct.calcsize("iII")))
            pids = [struct.unpack("iII", data[:12])[0] for level, kind, data in ancillary
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
            if message != HELLO or not pids:
                raise RuntimeError("the zygote's fork did not start")
            child = Child(pids[0])
            try:
                joined(child.pid)
                ours.send(GO)
            except BaseException:
                child.kill()
                raise
            return child
        finally:
            ours.close()
            theirs.close()

    def close(self) -> None:
        self._control.close()  # the zygote exits at the end of its control socket
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the zygote's side -----------------------------------------------------------------------------

def serve(control_fd: int) -> None:
    """The zygote: import, say ready, then fork one kernel per request until the grader goes away."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a package this installation lacks: its kernels import it cold, if at all
            pass
    fonts = {item.name: item.read_bytes() for item in Path(SCRATCH, ".matplotlib").glob("fontlist*.json")}
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the system
    control = socket.socket(fileno=control_fd)
    control.send(READY)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 2**20, 16)
        except OSError:
            break
        if not message:
            break
        pid = os.fork()
        if pid == 0:
            try:
                control.detach()
                _become_kernel(json.loads(message), fds, fonts)
            except BaseException:
                _report()
            finally:
                os._exit(127)
        for fd in fds:
            os.close(fd)
    os._exit(0)


def _become_kernel(request: dict, fds: list[int], fonts: dict[str, bytes]) -> None:
    """The fork (in the zygote's namespaces): say hello, wait for the grader, enter a new sandbox."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    targets = request["fds"]
    hello = _relocate(fds, targets)
    os.write(hello, HELLO)
    if os.read(hello, 16) != GO:
        os._exit(1)
    os.close(hello)
    os.setsid()
    data = request["data_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    lifeline, keep_alive = os.pipe()
    init = os.fork()
    if init == 0:
        try:
            os.close(keep_alive)
            _init(request, targets, fonts, lifeline)
        except BaseException:
            _report()
        finally:
            os._exit(127)
    os.close(lifeline)
    for fd in targets:  # the init has them
        os.close(fd)
    _, status = os.waitpid(init, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _report() -> None:
    """A fork's failure, on the zygote's stderr (``$COURSE_ZYGOTE_LOG``)."""
    import traceback

    traceback.print_exc()
    sys.stderr.flush()


def _relocate(fds: list[int], targets: list[int]) -> int:
    """Give the received descriptors ``fds[1:]`` the numbers they had in the grader (``targets``) and close
    every other descriptor but 0-2; returns ``fds[0]`` (the hello socket), renumbered."""
    floor = max([*targets, *fds, 2]) + 1
    high = [_dup_above(fd, floor) for fd in fds]
    for fd in [int(name) for name in os.listdir("/proc/self/fd")]:  # whatever else the zygote held
        if fd > 2 and fd not in high:
            try:
                os.close(fd)
            except OSError:
                pass
    for source, target in zip(high[1:], targets):
        os.dup2(source, target)
        os.close(source)
    return high[0]


def _dup_above(fd: int, floor: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)


def kept_under_tmp() -> list[str]:
    """The software folders and the course package that lie under ``/tmp`` (a checkout or a virtual
    environment made there): a fork's fresh ``/tmp`` must still show them, read-only, as a cold kernel's does."""
    from course_utils.grading.bwrap import package_folder, software_paths

    paths = [*software_paths(), str(package_folder())]
    return sorted({path for path in paths if Path(path).is_relative_to("/tmp")})


def _fresh_tmp(size: int, keep: list[str]) -> None:
    """A private ``/tmp`` of ``size`` bytes, with the folders of ``keep`` (under the old ``/tmp``) bound in,
    read-only: the new tmpfs is made on ``/run`` (remade later), the folders bound into it while the old
    ``/tmp`` is still visible, then it is moved onto ``/tmp``."""
    _mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    for path in keep:
        inside = "/run" + path[len("/tmp"):]
        os.makedirs(inside, mode=0o755, exist_ok=True)
        _mount(path, inside, None, MS_BIND | MS_REC)
        _mount(None, inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("/run", "/tmp", None, MS_MOVE)


def _init(request: dict, targets: list[int], fonts: dict[str, bytes], lifeline: int) -> None:
    """PID 1 of the fork's namespace: its mounts, then the kernel; exits when the kernel does."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([lifeline], [], [], 0)[0]:  # the fork died before the line above
        os._exit(1)
    _prctl(PR_SET_DUMPABLE, 0)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _call(_libc.sethostname(b"sandbox", 7), "sethostname")
    mib = 2**20
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _fresh_tmp(request["tmp_mb"] * mib, request.get("keep", []))
    os.makedirs(f"{SCRATCH}/.matplotlib", mode=0o755)
    for name, content in fonts.items():
        Path(SCRATCH, ".matplotlib", name).write_bytes(content)
        os.chmod(f"{SCRATCH}/.matplotlib/{name}", 0o444)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={request['shm_mb'] * mib},mode=0755")
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    _mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, f"size={mib},mode=0700")
    Path(CONNECTION_FILE).write_text(request["connection"])
    os.chmod(CONNECTION_FILE, 0o600)
    _mount("tmpfs", "/run", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    kernel = os.fork()
    if kernel == 0:
        try:
            for fd in (lifeline, ready_read, go_write):
                os.close(fd)
            _kernel(request, ready_write, go_read)
        except BaseException:
            _report()
        finally:
            os._exit(127)
    for fd in (*targets, ready_write, go_read):
        os.close(fd)
    if os.read(ready_read, 16) == MAP:  # the kernel has its user namespace: map its user 1000 onto ours
        _map_user(kernel)
        os.write(go_write, MAP)
    if os.read(ready_read, 16) == GO:  # the kernel set its limits in /proc/sys: now make it read-only
        for name in PROC_COVERED:
            path = f"/proc/{name}"
            if os.path.exists(path):
                _mount(path, path, None, MS_BIND | MS_REC)
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.write(go_write, GO)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        if pid == kernel:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _kernel(request: dict, ready: int, go: int) -> None:
    """PID 2: user 1000 in a user namespace of its own, without capabilities; then the IPython kernel."""
    _unshare(CLONE_NEWUSER)
    os.write(ready, MAP)
    if os.read(go, 16) != MAP:
        os._exit(1)
    Path("/proc/sys/user/max_user_namespaces").write_text("0")
    _drop_capabilities()
    os.write(ready, GO)
    if os.read(go, 16) != GO:
        os._exit(1)
    os.close(ready)
    os.close(go)
    os.chdir(SCRATCH)
    os.environ.clear()
    os.environ.update(request["env"], PWD=SCRATCH)
    _reseed()
    from course_utils.grading import kernel

    sys.argv = [kernel.__file__, "-f", CONNECTION_FILE, *request["arguments"]]
    try:
        kernel.main()
    finally:
        sys.stdout.flush()
        os._exit(0)


def _map_user(pid: int) -> None:
    """Map user and group 1000 of process ``pid``'s new user namespace onto ours (0), as its parent must."""
    Path(f"/proc/{pid}/setgroups").write_text("deny")
    Path(f"/proc/{pid}/uid_map").write_text(f"{SANDBOX_UID} 0 1")
    Path(f"/proc/{pid}/gid_map").write_text(f"{SANDBOX_UID} 0 1")


def _drop_capabilities() -> None:
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = struct.pack("Ii", CAPABILITY_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)  # two empty {effective, permitted, inheritable}
    _call(_libc.capset(ctypes.c_char_p(header), data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _reseed() -> None:
    """A fork inherits the zygote's random states: draw new ones, as a fresh interpreter would."""
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


def probe() -> None:
    """``--probe``: can a fork here enter what :func:`_become_kernel` needs? Prints ``ok``."""
    if os.fork() == 0:
        try:
            _unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            if os.fork() == 0:
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576")
                ready, mapped = os.pipe(), os.pipe()
                kernel = os.fork()
                if kernel == 0:
                    try:
                        _unshare(CLONE_NEWUSER)
                        os.write(ready[1], MAP)
                        os.read(mapped[0], 16)
                        Path("/proc/sys/user/max_user_namespaces").write_text("0")
                        _drop_capabilities()
                        os._exit(0 if os.getuid() == SANDBOX_UID else 1)
                    except BaseException as exc:
                        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
                        os._exit(1)
                os.read(ready[0], 16)
                _map_user(kernel)
                os.write(mapped[1], MAP)
                _, status = os.wait()
                os._exit(os.waitstatus_to_exitcode(status))
            _, status = os.wait()
            os._exit(os.waitstatus_to_exitcode(status))
        except BaseException as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            os._exit(1)
    _, status = os.wait()
    if os.waitstatus_to_exitcode(status) == 0:
        print("ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        probe()
    else:
        serve(int(os.environ.pop(CONTROL_ENV)))
