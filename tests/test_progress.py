"""The progress bar: a known clock gives a known line."""

from __future__ import annotations

from expctl.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_and_eta_by_hand() -> None:
    clock = FakeClock()
    progress = Progress(20, width=10, clock=clock)
    assert progress.line(0) == "[----------] 0/20  0:00 elapsed"
    clock.now += 42  # 7 items in 42 s: 6 s each, 13 left -> 78 s
    assert progress.line(7) == "[####------] 7/20  0:42 elapsed, ~1:18 left"
    clock.now += 78
    assert progress.line(20) == "[##########] 20/20  2:00 elapsed, done"


def test_resumed_jobs_count_only_their_own_items() -> None:
    clock = FakeClock()
    progress = Progress(10, already=6, width=10, clock=clock)
    clock.now += 30  # 2 of its own in 30 s: 15 s each, 2 left
    assert progress.line(8).endswith("0:30 elapsed, ~0:30 left")
    assert Progress(3, clock=clock).line(5).startswith("[####################] 3/3")


def test_hours() -> None:
    clock = FakeClock()
    progress = Progress(2, clock=clock)
    clock.now += 3600 + 61
    assert "1:01:01 elapsed, ~1:01:01 left" in progress.line(1)
