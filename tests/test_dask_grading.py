"""`course grade --scheduler`: a class graded on a real Dask cluster (a scheduler and two workers on
127.0.0.1, each its own process) gives the local run's gradebook byte for byte, and a worker killed
mid-run costs only a retry of its notebook.

The cluster and the local run are shared by this module's tests (module fixtures): its tests stay in one
pytest-xdist process (``xdist_group``), so that the cluster starts once.
"""

import csv
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, course
from test_grading import INIT, WARMUP, WRONG_ACCURACY, released, solved, with_solution

pytestmark = pytest.mark.xdist_group("dask_grading")

DASK = str(Path(sys.executable).with_name("dask"))
TIMEOUT = 120  # per notebook: generous for a loaded 2-core machine


def build_small_class(folder: Path) -> None:
    """Five lab-00 and lab-03 notebooks to run (solved, wrong, renamed, a crash) and two that are graded
    without running (malformed, nothing submitted)."""
    def put(student: str, assignment: str, nb, name: str | None = None) -> None:
        path = folder / student / assignment / (name or f"{assignment}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, path)

    put("ann", "00_warmup", solved(WARMUP))
    put("ann", "03_initialization", solved(INIT))
    put("bob", "00_warmup", with_solution(released(WARMUP), "accuracy", WRONG_ACCURACY))
    put("cy", "00_warmup", solved(WARMUP), name="00_warmup (1).ipynb")
    put("dee", "00_warmup", with_solution(released(WARMUP), "accuracy", "import os\nos._exit(0)"))
    put("eve", "00_warmup", '{"cells": [ {"cell_type": "code"')
    (folder / "fay" / "00_warmup").mkdir(parents=True)


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> Path:
    """The class, and a copy of the two labs' sources and answers (``--source``): the workers are given
    no path to them."""
    folder = tmp_path_factory.mktemp("dask_class")
    build_small_class(folder / "submitted")
    sources = folder / "sources"
    (sources / "answers").mkdir(parents=True)
    for lab in (WARMUP, INIT):
        (sources / lab.name).write_bytes(lab.read_bytes())
        answers = lab.parent / "answers" / f"{lab.stem}.json"
        (sources / "answers" / answers.name).write_bytes(answers.read_bytes())
    return folder


def grade(folder: Path, out: str, *options: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = course("grade", str(folder / "submitted"), "--out", str(folder / out), "--source",
                    str(folder / "sources"), "--timeout", str(TIMEOUT), *options, timeout=600)
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def local(class_folder) -> str:
    result, seconds = grade(class_folder, "local", "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"local pool of 2: {seconds:.1f} s")
    return (class_folder / "local" / "grades.csv").read_text()


def start(command: list[str], log: Path) -> subprocess.Popen:
    """A process in its own process group (killed whole), its output in ``log``."""
    with log.open("w") as stream:
        return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, cwd=log.parent,
                                start_new_session=True)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (random free ports)."""
    folder = tmp_path_factory.mktemp("dask_cluster")
    address_file = folder / "scheduler.json"
    processes = [start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(address_file)], folder / "scheduler.log")]
    try:
        wait_for(lambda: address_file.exists() and address_file.stat().st_size, 60, "the scheduler")
        workers = {f"w{n}": start([DASK, "worker", "--scheduler-file", str(address_file), "--host", "127.0.0.1",
                                   "--nthreads", "1", "--no-dashboard", "--name", f"w{n}"], folder / f"worker{n}.log")
                   for n in (1, 2)}
        processes += workers.values()
        from distributed import Client

        with Client(scheduler_file=str(address_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield {"address": address, "workers": workers, "folder": folder}
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def executing_grades(dask_worker) -> list[str]:
    """On a worker: the grading tasks it has started and not finished."""
    from course_utils.grading.cluster import KEY_PREFIX

    return sorted(str(task.key) for task in dask_worker.state.executing if str(task.key).startswith(KEY_PREFIX))


def busy_worker(client, workers: dict[str, subprocess.Popen], seen: dict) -> tuple | None:
    """``(process, address, keys)`` of a worker that has been grading the same notebook for two looks in a
    row, if any."""
    for address, keys in client.run(executing_grades).items():
        name = client.scheduler_info()["workers"].get(address, {}).get("name")
        if keys and seen.get(address) == keys and name in workers:
            return workers[name], address, keys
        seen[address] = keys
    return None


@pytest.fixture(scope="module")
def on_dask(class_folder, cluster) -> dict:
    """The class graded through the cluster, one of whose two workers is killed (with its nanny, for good)
    while it grades a notebook."""
    command = [str(Path(sys.executable).with_name("course")), "grade", str(class_folder / "submitted"), "--out",
               str(class_folder / "dask"), "--source", str(class_folder / "sources"), "--timeout", str(TIMEOUT),
               "--scheduler", cluster["address"]]
    log = class_folder / "dask.log"
    start = time.perf_counter()
    with log.open("w") as stream:
        run = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, cwd=ROOT,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    import cloudpickle
    from distributed import Client

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # executing_grades() runs on the workers
    try:
        with Client(cluster["address"], timeout=60) as client:
            seen: dict = {}
            busy, address, keys = wait_for(lambda: busy_worker(client, cluster["workers"], seen), 300,
                                           "a worker to start grading a notebook")
            os.killpg(busy.pid, signal.SIGKILL)  # the worker and its nanny: gone for good, mid-notebook
            busy.wait()
            returncode = run.wait(timeout=300)
            # where each of those notebooks ran afterwards: the scheduler's and the live workers' logs
            ran_on = {key: {entry[0] for entry in client.story(key) if entry[0] != "scheduler"} for key in keys}
    finally:
        if run.poll() is None:
            run.kill()
    print(f"dask, 2 workers, one killed: {time.perf_counter() - start:.1f} s")
    return {"returncode": returncode, "log": log.read_text(), "out": class_folder / "dask", "killed": busy,
            "killed_address": address, "ran_on": ran_on}


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(text.splitlines()))


def test_a_class_graded_on_dask_gets_the_local_gradebook_byte_for_byte(class_folder, local, on_dask):
    assert on_dask["returncode"] == 0, on_dask["log"][-3000:]
    assert "Dask cluster at" in on_dask["log"] and "2 worker(s)" in on_dask["log"]
    assert (on_dask["out"] / "grades.csv").read_text() == local
    pages = lambda out: {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.html"))}
    assert pages(on_dask["out"] / "feedback") == pages(class_folder / "local" / "feedback")
    graded = rows(local)
    assert {r["status"] for r in graded if r["student"] == "ann"} == {"passed"}
    assert {r["status"] for r in graded if r["student"] == "dee"} == {"kernel died"}
    assert {r["status"] for r in graded if r["student"] == "fay"} == {"missing"}


def test_a_worker_killed_mid_notebook_costs_only_a_retry(local, on_dask, cluster):
    """The worker was killed while it graded a notebook (a task it had started): that notebook was graded
    again by the other worker, and the gradebook (the local one, byte for byte, above) has every notebook
    once."""
    assert on_dask["killed"].returncode == -signal.SIGKILL
    for key, workers in on_dask["ran_on"].items():  # graded again, by the other worker
        assert workers and on_dask["killed_address"] not in workers, (key, workers)
    assert [w.poll() is None for w in cluster["workers"].values()].count(True) == 1
    keys = [(r["student"], r["notebook"], r["exercise"]) for r in rows((on_dask["out"] / "grades.csv").read_text())]
    assert len(keys) == len(set(keys)) and sorted(keys) == sorted((r["student"], r["notebook"], r["exercise"])
                                                                  for r in rows(local))
    assert "grader error" not in (on_dask["out"] / "grades.csv").read_text()


def test_what_travels_to_a_worker_holds_no_path_of_the_grader(class_folder):
    """The task and its lab are plain data: the notebook's bytes, the lab's notebooks and answers; no path
    to the submissions or to the instructor's sources, which a worker need not have."""
    from course_utils.grading.cluster import plain_lab, plain_task
    from course_utils.grading.collect import collect
    from course_utils.grading.grade import Task, lab_or_reason, prepare

    submissions, _ = collect(class_folder / "submitted", class_folder / "sources")
    sub = next(s for s in submissions if s.student == "ann" and s.notebook == "00_warmup")
    lab = lab_or_reason(sub.source)
    task = prepare(sub, lab)
    assert isinstance(task, Task) and task.data == sub.path.read_bytes()
    payload = pickle.dumps((plain_task(task), plain_lab(lab)))
    assert str(class_folder).encode() not in payload and str(ROOT).encode() not in payload
    assert pickle.loads(payload)[1].answers == lab.answers


def test_each_submission_gets_one_result_whatever_arrives_twice(class_folder):
    """A retried task's result is used once: receive() takes the first result of each key, and a key may
    stand for several submissions (same names, same bytes)."""
    from course_utils.grading.cluster import receive
    from course_utils.grading.collect import collect
    from course_utils.grading.grade import Graded

    submissions, _ = collect(class_folder / "submitted", class_folder / "sources")
    first, second = (Graded(dataclasses.replace(submissions[0], path=None), [], seconds=s) for s in (1.0, 2.0))
    arrived = [("k0", (first, "")), ("k0", (second, "")), ("k1", KeyError("lost")), ("unknown", (second, ""))]
    received = list(receive(arrived, {"k0": [0, 2], "k1": [1]}, {}, submissions, log=lambda message: None))
    assert [index for index, _ in received] == [0, 2, 1]
    assert [graded.seconds for _, graded in received[:2]] == [1.0, 1.0]
    assert received[0][1].submission == submissions[0]  # the grader's own submission, path included
    assert received[2][1].rows[0].status.value == "grader error"
    assert "the cluster could not grade it: KeyError" in received[2][1].rows[0].message


def test_a_task_key_names_one_grading(class_folder):
    """The same notebook graded the same way always has the same key (a resubmitted task is the same task);
    other bytes, another learner, another lab or other settings make another key."""
    from course_utils.grading.cluster import LAB_PREFIX, Settings, lab_digest, package_digest, task_key
    from course_utils.grading.collect import collect
    from course_utils.grading.grade import lab_or_reason, prepare
    from course_utils.grading.limits import Limits

    submissions, _ = collect(class_folder / "submitted", class_folder / "sources")
    sub = next(s for s in submissions if s.student == "ann" and s.notebook == "00_warmup")
    lab = lab_or_reason(sub.source)
    task, package, settings = prepare(sub, lab), package_digest(), Settings(timeout=60)
    lab_key = LAB_PREFIX + lab_digest(lab)
    key = task_key(task, lab_key, settings, package)
    assert key == task_key(prepare(sub, lab_or_reason(sub.source)), LAB_PREFIX + lab_digest(lab), Settings(timeout=60),
                           package_digest())
    others = [task_key(dataclasses.replace(task, data=task.data + b" "), lab_key, settings, package),
              task_key(dataclasses.replace(task, submission=dataclasses.replace(sub, student="bob")), lab_key, settings,
                       package),
              task_key(task, LAB_PREFIX + "0" * 64, settings, package),
              task_key(task, lab_key, Settings(Limits(memory_mb=1024), timeout=60), package)]
    assert len({key, *others}) == 5
