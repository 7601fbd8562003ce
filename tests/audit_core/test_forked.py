"""Forked workers: the same results as calls made here, in order, from inherited inputs, stopped on error."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from audit_core.audit.conditions import evaluate, evaluate_conditions
from audit_core.audit.run import gather_inputs
from audit_core.config import AuditConfig
from audit_core.core.forked import WORKERS_VARIABLE, available_cores, forked_map, worker_count
from audit_core.defenses import DynaNoise, StaticNoise, Undefended, fit_defense
from audit_core.targets.sklearn import classifier_scores

needs_two_cores = pytest.mark.skipif(available_cores() < 2, reason="forked workers need two cores")


def where(item: int) -> tuple[int, int, int]:
    return item * item, os.getpid(), torch.get_num_threads()


@needs_two_cores
def test_results_come_back_in_order_from_other_processes_with_one_thread_each(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    with forked_map(where, list(range(7))) as results:
        answers = results()
    assert [square for square, _, _ in answers] == [i * i for i in range(7)]
    assert {pid for _, pid, _ in answers}.isdisjoint({os.getpid()})
    assert {threads for _, _, threads in answers} == {1}


@needs_two_cores
def test_workers_inherit_inputs_that_cannot_be_pickled(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    locks = [threading.Lock() for _ in range(3)]  # pickle refuses a lock; a forked worker has its copy
    with forked_map(lambda lock: (lock.locked(), os.getpid()), locks) as results:
        answers = results()
    assert [locked for locked, _ in answers] == [False] * 3
    assert os.getpid() not in {pid for _, pid in answers}


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info()}


@needs_two_cores
def test_a_parent_busy_beside_its_workers_computes_on_one_thread_then_gets_its_threads_back(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the tests' session runs one thread: give this process two, as a user's has
    try:
        with threadpool_limits(2):
            with forked_map(where, [1, 2], busy_here=True) as results:
                inside = torch.get_num_threads(), blas_threads()
                results()
            assert (torch.get_num_threads(), blas_threads()) == (2, {2})
            with forked_map(where, [1, 2]) as results:  # an idle parent keeps its threads
                assert torch.get_num_threads() == 2
                results()
    finally:
        torch.set_num_threads(before)
    assert inside == (1, {1})


def slow_where(item: int) -> tuple[int, int]:
    time.sleep(0.2)
    return item * item, os.getpid()


@needs_two_cores
def test_a_busy_parent_done_with_its_own_work_computes_the_items_no_worker_has_started(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "1")  # one worker beside this process, whatever the cores
    with forked_map(slow_where, list(range(8)), busy_here=True) as results:
        time.sleep(0.3)  # this process's own work (the tuner's trials), meanwhile the worker starts
        answers = results()
    assert [square for square, _ in answers] == [i * i for i in range(8)]
    here = [pid == os.getpid() for _, pid in answers]
    assert not here[-1], "the worker starts with the last item"
    assert 2 <= sum(here) <= 6, here  # 8 items of 0.2 s shared by two processes: about half each
    assert len({pid for _, pid in answers}) == 2


def started(item: str) -> tuple[float, int]:
    began = time.monotonic()
    time.sleep(0.1)
    return began, os.getpid()


@needs_two_cores
def test_the_items_marked_costly_are_started_first_then_later_items_before_earlier_ones(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    items = ["a", "B", "c", "D", "e"]  # upper case: costly
    with forked_map(started, items, busy_here=True, costly=str.isupper) as results:
        time.sleep(0.5)  # busy here: the worker alone takes the items meanwhile
        answers = dict(zip(items, results(), strict=True))
    there = sorted((item for item in items if answers[item][1] != os.getpid()), key=answers.get)
    here = [item for item in items if item not in there]
    expected = ["D", "B", "e", "c", "a"]
    assert len(there) >= 2 and there == expected[: len(there)]  # started in this order
    assert sorted(here, key=expected.index) == expected[len(there) :]  # the rest, shared at the end


@needs_two_cores
def test_the_first_items_are_started_before_all_others_and_their_results_come_alone(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    items = ["a", "b", "C", "d", "e"]  # C is costly, yet a and b come first
    with forked_map(started, items, busy_here=True, costly=str.isupper, first=2) as results:
        early = results(2)
        answers = results()
    assert len(early) == 2 and answers[:2] == early  # the same calls' results, not made again
    assert max(began for began, _ in early) < min(began for began, _ in answers[2:])


def test_without_workers_the_first_results_are_computed_once(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "0")
    calls: list[int] = []
    with forked_map(lambda item: calls.append(item) or item * item, [1, 2, 3], first=1) as results:
        assert results(1) == [1] and calls == [1]
        assert results() == [1, 4, 9] and calls == [1, 2, 3]


def test_no_workers_when_told_so_or_with_one_item(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "0")
    assert worker_count(10) == 0
    with forked_map(where, [1, 2]) as results:
        assert {pid for _, pid, _ in results()} == {os.getpid()}
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    assert worker_count(10) == 0  # one worker and an idle parent: no gain
    assert worker_count(10, busy_here=True) == (1 if available_cores() >= 2 else 0)
    monkeypatch.delenv(WORKERS_VARIABLE)
    assert worker_count(1) == 0


def fails_on_three(item: int) -> int:
    if item == 3:
        raise ValueError("three is not allowed")
    return item


def sleeps(item: int) -> int:
    time.sleep(60)
    return item


@needs_two_cores
def test_a_workers_error_is_raised_here_and_an_error_here_stops_the_workers_at_once(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    failing = forked_map(fails_on_three, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="three is not allowed"), failing as results:
        results()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), forked_map(sleeps, [1, 2]):
        raise KeyboardInterrupt  # as Ctrl-C while the workers sleep for a minute
    assert time.perf_counter() - started < 20


@needs_two_cores
def test_workers_stop_at_once_under_a_sigterm_handler_like_the_command_lines(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)

    def terminated(signum, frame):  # `dynaudit` turns SIGTERM into an exception; forked workers inherit it
        raise SystemExit("terminated")

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        started = time.perf_counter()
        with pytest.raises(KeyboardInterrupt), forked_map(sleeps, [1, 2, 3]):
            time.sleep(0.5)  # the workers are inside their calls
            raise KeyboardInterrupt
        assert time.perf_counter() - started < 20
    finally:
        signal.signal(signal.SIGTERM, before)


@needs_two_cores
def test_conditions_evaluated_in_workers_equal_those_evaluated_here(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    config = AuditConfig(
        cache_dir=None,
        reference_models=4,
        recipe={"epochs": 20},
        attacks=["loss", "lira_offline", "boundary"],
        knowledge=["naive", "averaging"],
        max_queries=4,
    )
    inputs = gather_inputs(config)
    noises = (StaticNoise(sigma_sq=1.0), DynaNoise(noise_mode="per_input", key=b"k" * 16))
    defenses = [fit_defense(d, inputs.defender, config.seed) for d in (Undefended(), *noises)]
    forked = evaluate_conditions(config, inputs.signals, defenses)
    for defense, result in zip(defenses, forked, strict=True):
        here = evaluate(config, inputs.signals, defense)
        assert result.condition == here.condition
        np.testing.assert_array_equal(result.test_correct, here.test_correct)
        for a, b in zip(result.outcomes, here.outcomes, strict=True):
            assert (a.attack, a.knowledge, a.auc) == (b.attack, b.knowledge, b.auc)
            np.testing.assert_array_equal(a.scores, b.scores)
        assert result.averaging == here.averaging


@pytest.mark.parametrize("workers", ["0", "2"])
def test_progress_is_reported_as_each_result_is_ready(monkeypatch, workers):
    """``on_done(done, total)`` counts up from 0 to every item once, whether the items run in workers or
    here (DYNAUDIT_WORKERS=0), and alongside a busy parent that computes items no worker has started."""
    if workers != "0" and available_cores() < 2:
        pytest.skip("forked workers need two cores")
    monkeypatch.setenv(WORKERS_VARIABLE, workers)
    for busy_here in (False, True):
        reports: list[tuple[int, int]] = []
        with forked_map(where, list(range(6)), busy_here=busy_here) as results:
            answers = results(on_done=lambda *report, seen=reports: seen.append(report))
        assert [square for square, _, _ in answers] == [i * i for i in range(6)]
        assert reports == [(done, 6) for done in range(7)], (busy_here, reports)


COPIED_SERVICE = """
import asyncio, gc, os, threading
from audit_core.core.forked import forked_map

service = {}
started = threading.Event()


async def serve():
    try:
        started.set()
        await asyncio.Future()  # waits for work forever, like a queue service
    finally:
        assert service, "cleaned up in a process that reset the service"


def loop_thread():
    loop = asyncio.new_event_loop()
    service["loop"], service["task"] = loop, loop.create_task(serve())
    loop.run_forever()


def collect_garbage(item):
    gc.collect()  # what the interpreter does at some point in any long computation
    return item


os.register_at_fork(after_in_child=service.clear)  # what Prefect's services do in a forked child
threading.Thread(target=loop_thread, daemon=True).start()
started.wait(10)
with forked_map(collect_garbage, list(range(4))) as results:
    print(results())
"""


@needs_two_cores
def test_a_worker_does_not_destroy_the_asyncio_tasks_it_copied_from_this_process(tmp_path):
    """Prefect runs its services as asyncio tasks on a loop thread and forgets them in a forked child
    (``os.register_at_fork``); had a worker's garbage collector destroyed those copies, the worker would print
    "Task was destroyed but it is pending!" and the coroutine's failed cleanup (seen once in CI, in the demo's
    output). A task stands in for such a service here, forgotten the same way, in a process of its own
    (pytest's own hooks would swallow what a worker prints)."""
    (tmp_path / "copied.py").write_text(COPIED_SERVICE)
    env = {key: value for key, value in os.environ.items() if key != WORKERS_VARIABLE}
    done = subprocess.run(
        [sys.executable, "copied.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "[0, 1, 2, 3]", done.stderr
    assert "Task was destroyed" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def _jobs(model) -> set:
    return {value for name, value in model.get_params(deep=True).items() if name.rsplit("__")[-1] == "n_jobs"}


@needs_two_cores
def test_a_model_queried_in_a_worker_runs_on_one_job_there_and_keeps_its_own_here(monkeypatch):
    """In a forked worker a scikit-learn model answers on one job: every n_jobs in it (a voting ensemble's,
    its members', a pipeline step's) is 1 there, as LightGBM needs (it hands OpenMP the cores it sees, and in
    a forked child OpenMP waits forever for the threads of its parent's pool); here the model keeps its own,
    and the answers agree."""
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 4)), rng.integers(0, 3, 200)
    members = [
        ("neighbours", make_pipeline(StandardScaler(), KNeighborsClassifier(n_jobs=2))),
        ("forest", RandomForestClassifier(10, n_jobs=2, random_state=0)),
    ]
    model = VotingClassifier(members, voting="soft", n_jobs=2).fit(x, y)

    def answer(_: int) -> tuple[set, np.ndarray]:
        scores = classifier_scores(model, x)
        return _jobs(model), scores

    with forked_map(answer, [0, 1]) as results:
        answers = results()
    assert [jobs for jobs, _ in answers] == [{1}, {1}]
    jobs, here = answer(0)
    assert jobs == {2}
    for _, scores in answers:
        np.testing.assert_allclose(scores, here, rtol=1e-12)


class _ComparedByValue(KNeighborsClassifier):
    """A user's estimator that compares by value, and so has no hash."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()

    __hash__ = None  # type: ignore[assignment]


@needs_two_cores
def test_a_model_without_a_hash_is_queried_on_one_job_in_a_worker_too(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    model = _ComparedByValue(n_jobs=2).fit(x, y)

    def answer(_: int) -> set:
        classifier_scores(model, x)
        return _jobs(model)

    with forked_map(answer, [0, 1]) as results:
        assert results() == [{1}, {1}]
    assert _jobs(model) == {2}
