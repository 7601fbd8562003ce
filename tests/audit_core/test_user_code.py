"""Bounded calls into user code: answered on a thread that stays, so no thread exits between calls (a thread
still exiting when the audit forks can leave a native library's lock taken in the child)."""

import os
import threading
import time

import numpy as np
import pytest
import torch

from audit_core.core.user_code import UserCodeError, call_user_code


def _raises() -> None:
    raise ValueError("bad")


def test_bounded_calls_run_on_one_thread_that_stays_between_them():
    threads = {call_user_code(threading.current_thread, timeout_s=5) for _ in range(20)}
    assert len(threads) == 1
    (thread,) = threads
    assert thread is not threading.current_thread() and thread.is_alive() and thread.daemon


def test_a_call_that_times_out_is_abandoned_and_the_next_runs_on_another_thread():
    first = call_user_code(threading.current_thread, timeout_s=5)
    with pytest.raises(UserCodeError, match=r"no answer within 0\.2 s"):
        call_user_code(time.sleep, 1.0, timeout_s=0.2)
    second = call_user_code(threading.current_thread, timeout_s=5)
    assert second is not first and first.is_alive()  # the sleeping one is not asked again
    with pytest.raises(UserCodeError, match="ValueError: bad"):
        call_user_code(_raises, timeout_s=5)
    assert call_user_code(threading.current_thread, timeout_s=5) is second  # an error keeps the thread


def test_a_forked_child_answers_bounded_calls_on_threads_of_its_own():
    layer = torch.nn.Linear(8, 4)
    batch = torch.from_numpy(np.ones((32, 8), dtype=np.float32))
    call_user_code(layer, batch, timeout_s=5)  # the parent's thread exists, and has run the model
    child = os.fork()
    if child == 0:  # the parent's threads are not in the child: a call there must start its own
        code = 1
        try:
            code = 0 if call_user_code(layer, batch, timeout_s=5).shape == (32, 4) else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(child, 9)
    pytest.fail("the forked child's bounded call did not return within 30 s")
