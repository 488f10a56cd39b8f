"""The grader's defences one by one: the sandbox's file system, the limits (cgroups and the fallback
watchdog), the record channel, and reading submissions without following links."""

import json
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course_utils.checks.answers import MAX_RECORD_BYTES
from course_utils.grading.channel import MAX_WINDOW_BYTES, RecordChannel
from course_utils.grading.collect import collect
from course_utils.grading.files import NotRegular, TooLarge, read_under
from course_utils.grading.limits import MEMORY, PROCESSES, Enforcer, Limits, find_hierarchy
from course_utils.grading.runner import run_recorded
from course_utils.grading.sandbox import Sandbox, package_folder, sandbox_problem, software_paths
from test_grading import WARMUP, solved

needs_sandbox = pytest.mark.skipif(bool(sandbox_problem()) and not os.environ.get("CI"), reason=sandbox_problem())


KERNELS = ["cold", "warm"]  # every test of a kernel runs with both: a fresh interpreter, a fork of a warm zygote


def sandbox_for(kernels: str, support: Path, **options) -> Sandbox:
    """A sandbox whose kernels are ``kernels``; warm ones must run here (CI), never fall back to cold."""
    box = Sandbox.create(Limits(memory_mb=700, processes=40, tmp_mb=32, shm_mb=8), allow_unsandboxed=False,
                         kernels=kernels, **options)
    assert box.kernels == kernels, f"{kernels} kernels cannot run here"
    box.prepare(support)
    return box


@pytest.fixture(scope="module", params=KERNELS)
def sandbox(request, tmp_path_factory):
    box = sandbox_for(request.param, tmp_path_factory.mktemp("support"))
    yield box
    box.close()


PROBE = """
import ctypes, json, os, socket, subprocess
root = {root!r}
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
child = os.fork()  # a process of one thread (a kernel has several, and unshare refuses those anyway)
if child == 0:
    os._exit(0 if ctypes.CDLL(None).unshare(0x10000000) == 0 else 1)  # CLONE_NEWUSER
userns = os.waitpid(child, 0)[1] == 0
try:
    open("/usr/probe", "w")
    usr_writable = True
except OSError:
    usr_writable = False
import course_utils
tmp = os.statvfs("/tmp")
print(json.dumps({{
    "uid": os.getuid(), "caps": int(status["CapEff"].strip(), 16), "userns": userns,
    "checkout": sorted(os.listdir(root)), "top": sorted(os.listdir("/")), "home": os.environ["HOME"],
    "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "interfaces": sorted(name for _, name in socket.if_nameindex()),
    "tmp_mb": tmp.f_blocks * tmp.f_frsize // 2**20, "usr_writable": usr_writable,
    "package": os.path.dirname(course_utils.__file__), "cwd": os.getcwd(),
    "capabilities": {{key: value.strip() for key, value in status.items() if key.startswith("Cap")}},
    "hostname": socket.gethostname(), "environment": sorted(os.environ),
    "modes": {{path: [oct(os.stat(path).st_mode), os.stat(path).st_uid] for path in
               ("/tmp", "/tmp/scratch", "/dev/shm", "/run", "/run/kernel.json", "/etc/passwd")}},
}}))
"""


def seen_by_a_kernel(sandbox: Sandbox, folder: Path) -> dict:
    """What a kernel of ``sandbox`` sees (:data:`PROBE`), from its output."""
    folder.mkdir()
    run = run_recorded(lab_free_notebook(PROBE.format(root=str(ROOT))), [], cwd=folder, timeout=120,
                       sandbox=sandbox, workdir=folder)
    assert run.execution.status == "ok", run.execution.summary()
    return json.loads(run.execution.notebook.cells[0].outputs[0]["text"])


@needs_sandbox
def test_the_sandbox_holds_only_python_and_the_package(sandbox, tmp_path):
    seen = seen_by_a_kernel(sandbox, tmp_path / "work")
    mounted = [Path(path) for path in (*software_paths(), str(package_folder()))]
    assert seen["uid"] != 0 and seen["caps"] == 0 and not seen["userns"]
    assert set(seen["checkout"]) <= {"course_utils", ".venv"}  # no .git, no solutions/, no tests/
    assert seen["package"] == str(package_folder()) and seen["cwd"] == "/tmp/scratch"
    assert set(seen["top"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev", "tmp",
                                "run", *(path.parts[1] for path in mounted)}
    assert set(seen["root_home"]) <= {path.parts[2] for path in mounted if path.parts[1] == "root"}
    assert seen["processes"] == [1, 2]  # its own init and itself: nothing of the machine
    assert seen["interfaces"] == ["lo"] and seen["tmp_mb"] == 32 and not seen["usr_writable"]
    assert set(seen["capabilities"].values()) == {"0000000000000000"}  # none, not even in the bounding set
    assert seen["hostname"] == "sandbox" and seen["modes"]["/tmp/scratch"][1] == seen["uid"]


@needs_sandbox
def test_warm_and_cold_kernels_see_the_same_sandbox(tmp_path):
    """A fork of the warm zygote enters a sandbox that looks, from inside, exactly like a cold kernel's."""
    seen = {}
    for kernels in KERNELS:
        box = sandbox_for(kernels, tmp_path / f"support-{kernels}")
        try:
            seen[kernels] = seen_by_a_kernel(box, tmp_path / kernels)
        finally:
            box.close()
    assert seen["warm"] == seen["cold"]


def test_the_python_folders_mounted_never_include_a_checkout():
    for path in software_paths():
        assert not (Path(path) / ".git").exists() and not (Path(path) / "solutions").exists(), path
        assert not package_folder().is_relative_to(path) or "site-packages" in str(package_folder())


# -- limits ---------------------------------------------------------------------------------------

def lab_free_notebook(code: str) -> nbformat.NotebookNode:
    v4 = nbformat.v4
    return v4.new_notebook(cells=[v4.new_code_cell(code), v4.new_code_cell("print('still alive')")])


FORKED_MEMORY = """
import os, time
for _ in range(4):
    if os.fork() == 0:
        hoard = b"x" * 250_000_000
        time.sleep(5)
        os._exit(0)
for _ in range(4):
    os.wait()
"""
FORK_BOMB = """
import os, time
while True:
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
"""


@needs_sandbox
@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("code, limit", [(FORKED_MEMORY, MEMORY), (FORK_BOMB, PROCESSES)])
def test_the_fallback_watchdog_limits_the_whole_process_tree(tmp_path, code, limit, kernels):
    """Without a writable cgroup, the watchdog adds up the sandbox's processes and stops it at a limit."""
    watched = sandbox_for(kernels, tmp_path / "support", use_cgroups=False)
    assert "watchdog" in watched.describe()
    (tmp_path / "work").mkdir()
    try:
        if kernels == "warm":
            watched.zygote()  # started before the clock: its imports are not the notebook's time
        start = time.perf_counter()
        run = run_recorded(lab_free_notebook(code), [], cwd=tmp_path / "work", timeout=60, sandbox=watched,
                           workdir=tmp_path / "work")
    finally:
        watched.close()
    assert run.stopped_at == limit and run.execution.status == "kernel died"
    assert time.perf_counter() - start < 40


@needs_sandbox
def test_a_cgroup_limits_forked_children_where_the_machine_allows_it(sandbox, tmp_path):
    if sandbox.enforcer.hierarchy is None:
        pytest.skip("no writable cgroup here: the watchdog test covers this machine")
    (tmp_path / "work").mkdir()
    run = run_recorded(lab_free_notebook(FORKED_MEMORY), [], cwd=tmp_path / "work", timeout=60, sandbox=sandbox,
                       workdir=tmp_path / "work")
    assert run.stopped_at == MEMORY


def test_cgroup_v2_is_found_where_both_controllers_are_delegated(tmp_path):
    group = tmp_path / "grader"
    group.mkdir()
    (group / "cgroup.subtree_control").write_text("cpu memory pids\n")
    mounts = f"41 31 0:38 / {tmp_path} rw,relatime - cgroup2 cgroup2 rw\n"
    found = find_hierarchy(mounts, "0::/grader\n", writable=lambda path: True)
    assert found.version == 2 and found.memory == found.pids == group
    (group / "cgroup.subtree_control").write_text("cpu\n")
    assert find_hierarchy(mounts, "0::/grader\n", writable=lambda path: True) is None
    (group / "cgroup.subtree_control").write_text("memory pids\n")
    stale, ours = group / "course-grade-999999999-3", group / f"course-grade-{os.getpid()}-7"
    stale.mkdir(), ours.mkdir()
    session = Enforcer(Limits(memory_mb=300, processes=20), hierarchy=found).session()
    assert not stale.exists() and ours.exists()  # a grader killed before its clean-up leaves nothing behind
    (created,) = session.groups
    assert (created / "memory.max").read_text() == str(300 * 2**20) and (created / "pids.max").read_text() == "20"
    assert session.prefix()[-3:] == ["--join", str(created), "--"]


# -- the record channel -----------------------------------------------------------------------------

def line(exercise="demo.f", value=1, size=0) -> bytes:
    record = {"exercise": exercise, "case": {"x": 1}, "hidden": False, "status": "ok", "value": value,
              "padding": "x" * size}
    return (json.dumps(record) + "\n").encode()


def test_records_belong_to_the_window_they_arrive_in():
    channel = RecordChannel()
    os.write(channel.write_fd, line(value="before") + b'{"exercise": "demo.f", "par')
    channel.open_window(1)
    os.write(channel.write_fd, line(value="inside") + line("other.g", value="wrong exercise") + b'{"incomplete')
    channel.close_window()
    os.write(channel.write_fd, line(value="after"))
    channel.open_window(2)
    channel.close()  # a window still open when the kernel is gone counts what it received
    assert [r["value"] for r in channel.records({1: "demo.f", 2: "demo.f"})] == ["inside"]


def test_a_window_with_too_much_data_or_too_long_a_line_is_not_read():
    channel = RecordChannel()
    channel.open_window(1)
    os.write(channel.write_fd, line(size=MAX_RECORD_BYTES))
    channel.close_window()
    channel.open_window(2)
    writer = threading.Thread(target=lambda: [os.write(channel.write_fd, line(size=2**16))
                                              for _ in range(MAX_WINDOW_BYTES // 2**16 + 2)])
    writer.start()
    writer.join(timeout=30)
    channel.close_window()
    channel.open_window(3)
    os.write(channel.write_fd, line(value="fine"))
    channel.close_window()
    channel.close()
    assert channel.oversized == {1, 2}
    assert [r["value"] for r in channel.records({1: "demo.f", 2: "demo.f", 3: "demo.f"})] == ["fine"]


def test_a_kernel_writing_outside_windows_is_never_blocked():
    channel = RecordChannel()
    done = threading.Event()
    threading.Thread(target=lambda: (os.write(channel.write_fd, b"x" * 10 * 2**20), done.set()), daemon=True).start()
    assert done.wait(20), "the writer blocked: the pipe is not read continuously"
    channel.close()


# -- submissions ------------------------------------------------------------------------------------

def test_reading_a_submission_never_follows_a_link_nor_blocks_on_a_fifo(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "nb.ipynb").write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "zero.ipynb").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "real" / "fifo.ipynb")
    (tmp_path / "real" / "big.ipynb").write_bytes(b"x" * 2000)
    assert read_under(tmp_path, Path("real/nb.ipynb"), 100) == b"{}"
    for relative, what in [("link/nb.ipynb", "link is a symbolic link"), ("real/zero.ipynb", "a symbolic link"),
                           ("real/fifo.ipynb", "a FIFO"), ("real/../real/nb.ipynb", "not a path inside")]:
        with pytest.raises(NotRegular, match=what):
            read_under(tmp_path, Path(relative), 100)
    with pytest.raises(TooLarge):
        read_under(tmp_path, Path("real/big.ipynb"), 1000)


def test_collect_lists_links_and_escapes_names_it_cannot_show(tmp_path):
    submitted = tmp_path / "submitted"
    for student in ("ann", "tab\tname"):
        (submitted / student / "00_warmup").mkdir(parents=True)
        nbformat.write(solved(WARMUP), submitted / student / "00_warmup" / "00_warmup.ipynb")
    (submitted / "ann_copy").symlink_to(submitted / "ann")
    (submitted / "ann" / "unknown_lab").mkdir()
    (submitted / "loose.ipynb").write_text("{}")
    found, warnings = collect(submitted, ROOT / "solutions")
    by_student = {s.student: s for s in found}
    assert set(by_student) == {"ann", "ann_copy", "tab\\tname"}
    assert by_student["ann_copy"].problem[0] == "not a regular file"
    assert by_student["tab\\tname"].problem is None and "shown escaped" in by_student["tab\\tname"].notes[0]
    assert any("expected one folder per student" in w for w in warnings)
    assert any("no lab source named 'unknown_lab'" in w for w in warnings)


def test_require_sandbox_refuses_where_user_namespaces_are_off(tmp_path, monkeypatch, capsys):
    """Some Docker and Kubernetes defaults forbid user namespaces: one line says so, and
    --require-sandbox refuses to grade."""
    from course_utils import cli
    from course_utils.grading import bwrap as module

    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(module, "bwrap_path", lambda: str(fake))
    module.sandbox_problem.cache_clear()
    try:
        (tmp_path / "submitted" / "ann").mkdir(parents=True)
        nbformat.write(solved(WARMUP), tmp_path / "submitted" / "ann" / "00_warmup.ipynb")
        code = cli.main(["grade", str(tmp_path / "submitted"), "--out", str(tmp_path / "out"), "--require-sandbox"])
        refused = capsys.readouterr().err
        assert code == 2 and "user namespaces" in refused and len(refused.strip().splitlines()) == 1
        assert not (tmp_path / "out").exists()
        warnings = []
        unsandboxed = Sandbox.create(Limits(), warn=warnings.append)
        assert not unsandboxed.use_bwrap and len(warnings) == 1 and "WITHOUT a sandbox" in warnings[0]
    finally:
        module.sandbox_problem.cache_clear()
