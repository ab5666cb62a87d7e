"""Progress lines: elapsed time, quiet mode, the heartbeat and the task counter."""

import io
import re
import time

from latentmix.progress import Progress, TaskCounter


def test_progress_prints_elapsed_time_and_message():
    stream = io.StringIO()
    Progress(stream=stream)("fitting EM")
    assert re.fullmatch(r"\[\s*\d+\.\d s\] fitting EM\n", stream.getvalue())


def test_quiet_progress_prints_nothing():
    stream = io.StringIO()
    progress = Progress(quiet=True, stream=stream)
    progress("fitting EM")
    with progress.heartbeat("sampling", every=0.01):
        time.sleep(0.05)
    TaskCounter(progress, total=2, done=1).update("n50-r0001", True, 0.5)
    assert stream.getvalue() == ""


def test_heartbeat_repeats_until_the_block_ends():
    stream = io.StringIO()
    progress = Progress(stream=stream)
    with progress.heartbeat("still sampling", every=0.02):
        time.sleep(0.15)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert all(re.search(r"still sampling \(\d+ s\)$", line) for line in lines)
    time.sleep(0.06)
    assert stream.getvalue().splitlines() == lines  # the thread stopped with the block


def test_task_counter_counts_failures_and_resumed_tasks():
    stream = io.StringIO()
    counter = TaskCounter(Progress(stream=stream), total=4, done=1)
    counter.update("a", True, 1.0)
    counter.update("b", False, 2.0, error="ValueError: bad")
    lines = stream.getvalue().splitlines()
    assert "resuming: 1 of 4 tasks already stored" in lines[0]
    assert "[2/4] a ok 1.0 s; failed so far 0" in lines[1]
    assert "[3/4] b FAILED (ValueError: bad) 2.0 s; failed so far 1" in lines[2]
    assert (counter.done, counter.failed) == (3, 1)
