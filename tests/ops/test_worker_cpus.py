"""Each worker of the production server runs, with all its threads, on a CPU of its own
among those the server may use (ops.uvicorn_worker.CpuPins); a worker that replaces a dead
one takes its CPU; more workers than CPUs, or WORKER_CPU_PINNING=0, are left to the
kernel. By default there is one worker per CPU (ops.server.worker_count)."""

import os
import signal
import time
import urllib.request

import psutil

from ops.server import worker_count
from ops.uvicorn_worker import CpuPins, pin_to

CPUS = os.sched_getaffinity(0)


def workers_of(server) -> list[psutil.Process]:
    return psutil.Process(server.pid).children()


def cpus_of_threads(worker: psutil.Process) -> list[set]:
    """The CPUs each thread of the worker may run on."""
    return [os.sched_getaffinity(thread.id) for thread in worker.threads()]


def busy(server, requests: int = 30) -> None:
    """Requests enough for the workers' threads to exist."""
    for _ in range(requests):
        with urllib.request.urlopen(server.url + "/health", timeout=10) as answer:
            assert answer.status == 200


def test_each_worker_and_its_threads_keep_to_a_cpu_of_its_own(app_servers):
    workers = min(len(CPUS), 3)
    (server,) = app_servers.start(workers=workers)
    busy(server)
    pinned, threads_seen = [], 0
    for worker in workers_of(server):
        threads = cpus_of_threads(worker)
        threads_seen += len(threads)
        if len(CPUS) == 1:  # nothing to deal out: left as it was
            assert all(cpus == CPUS for cpus in threads)
            continue
        assert all(len(cpus) == 1 and cpus == threads[0] for cpus in threads), threads
        pinned.append(next(iter(threads[0])))
    assert threads_seen > workers  # threads started after the fork (the pooled ones) among them
    if len(CPUS) > 1:
        assert len(set(pinned)) == workers and set(pinned) <= CPUS


def test_more_workers_than_cpus_are_left_to_the_kernel(app_servers):
    (server,) = app_servers.start(workers=len(CPUS) + 1)
    busy(server)
    for worker in workers_of(server):
        assert all(cpus == CPUS for cpus in cpus_of_threads(worker))


def test_a_worker_that_replaces_a_dead_one_takes_its_cpu(app_servers):
    (server,) = app_servers.start(workers=2)
    busy(server)
    before = {worker.pid: os.sched_getaffinity(worker.pid) for worker in workers_of(server)}
    victim = min(before)
    assert len(before[victim]) == 1 or len(CPUS) == 1
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = {worker.pid: worker for worker in workers_of(server)}
        born = [pid for pid in now if pid not in before]
        if born and len(now) == 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no worker replaced the dead one")
    server.wait_ready()
    assert os.sched_getaffinity(born[0]) == before[victim]


def test_with_pinning_off_the_workers_may_run_on_every_cpu(app_servers):
    (server,) = app_servers.start(workers=2, env={"WORKER_CPU_PINNING": "0"})
    busy(server)
    for worker in workers_of(server):
        assert all(cpus == CPUS for cpus in cpus_of_threads(worker))


class FakeWorker:
    def __init__(self, pid):
        self.pid = pid


def test_cpus_go_to_the_fewest_living_workers_first():
    pins = CpuPins({0, 1, 2})
    workers = [FakeWorker(os.getpid()) for _ in range(4)]
    assert [pins.assign(worker) for worker in workers] == [0, 1, 2, 0]
    del workers[1]  # gone (the master dropped it): CPU 1 holds nobody now
    workers.append(FakeWorker(os.getpid()))
    assert pins.assign(workers[-1]) == 1
    workers.append(FakeWorker("[booting]"))  # not forked yet: counts as alive
    assert pins.assign(workers[-1]) == 1  # CPUs 0, 1, 2 held by 2, 1, 1: the first of the least
    workers[0].pid = 2**22 + 1  # a process that has exited (above any pid_max)
    assert pins.assign(FakeWorker(os.getpid())) == 0


def test_two_servers_start_dealing_at_different_cpus():
    """The master's pid says where its dealing starts: two single-worker servers on one
    machine do not both land on the first CPU."""
    workers = [FakeWorker(os.getpid()) for _ in range(4)]
    assert [CpuPins({0, 1, 2}, start=4).assign(worker) for worker in workers[:1]] == [1]
    pins = CpuPins({0, 1, 2}, start=5)
    assert [pins.assign(worker) for worker in workers] == [2, 0, 1, 2]


def test_one_worker_per_cpu_by_default(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert worker_count() == len(CPUS)
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert worker_count() == 5


def test_a_cpu_the_process_may_not_use_leaves_the_worker_unpinned(caplog):
    """The cpuset may shrink between the master's count and a worker's start: the worker
    then starts where it is, with a warning, instead of failing (and being restarted for
    ever)."""
    before = os.sched_getaffinity(0)
    outside = max(before) + 4096  # no CPU of any machine here
    result = run_in_thread(pin_to, outside)
    assert result is False
    assert os.sched_getaffinity(0) == before
    assert "stays unpinned" in caplog.text


def run_in_thread(fn, *args):
    """`fn` on a thread of its own, so that a pinning it does stays there."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()
