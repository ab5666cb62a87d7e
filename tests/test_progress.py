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


def _left(line: str) -> str:
    return line.rsplit("; ", 1)[1]


def test_the_time_left_comes_from_measured_task_times_not_the_first_ones():
    # Two workers; each one's first task paid for compiling (100 s), the others took 2-4 s.
    stream = io.StringIO()
    counter = TaskCounter(Progress(stream=stream), total=12, n_workers=2)
    counter.update("a", True, 100.0, worker="w1")
    counter.update("b", True, 98.0, worker="w2")
    assert counter.estimate() is None  # only first tasks so far: nothing measured
    counter.update("c", True, 2.0, worker="w1")
    counter.update("d", True, 4.0, worker="w2")
    counter.update("e", True, 3.0, worker="w1")
    # 7 tasks left, two at a time: 4 rounds of the median 3 s.
    assert counter.estimate() == 4 * 3.0
    lines = stream.getvalue().splitlines()
    assert _left(lines[0]) == "time left known after a worker's second task"
    assert _left(lines[-1]) == "~12 s left"


def test_the_estimate_uses_the_median_and_ignores_tasks_without_a_time():
    counter = TaskCounter(Progress(quiet=True), total=10, n_workers=1)
    for seconds in (50.0, 1.0, 2.0, 30.0, float("nan")):
        counter.update("t", True, seconds, worker="w")
    # Measured: 1, 2, 30 (the first task and the one without a time left out).
    assert counter.estimate() == 5 * 2.0


def test_the_estimate_is_told_the_workers_later_and_ends_at_zero():
    counter = TaskCounter(Progress(quiet=True), total=3)
    counter.n_workers = 4  # known once the scheduler is up
    counter.update("a", True, 60.0)
    counter.update("b", True, 6.0)
    assert counter.estimate() == 6.0  # one task left, one round
    counter.update("c", True, 6.0)
    assert counter.estimate() == 0.0


def test_durations_read_in_seconds_minutes_or_hours():
    from latentmix.progress import format_duration

    assert [format_duration(s) for s in (12.4, 282.0, 9000.0)] == ["12 s", "4.7 min", "2.5 h"]
