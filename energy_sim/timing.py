"""Where a run spends its time: wall and CPU seconds per stage.

A run calls ``clock.lap("profiles")`` after computing the profiles of a
block, ``clock.lap("load flow + metrics")`` after solving it, and so on:
each lap books the time since the previous lap to the named stage, so the
stages add up to the run's time with no nesting to keep track of. CPU time
(`time.process_time`) counts every thread of the process: with two numba
threads a stage can show more CPU than wall seconds.
"""

from __future__ import annotations

import time


class StageClock:
    """Wall and CPU seconds booked per stage, in the order stages first appear."""

    def __init__(self) -> None:
        self.wall_s: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def lap(self, stage: str) -> None:
        """Book the time since the previous lap (or the start) to `stage`."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall_s[stage] = self.wall_s.get(stage, 0.0) + wall - self._wall
        self.cpu_s[stage] = self.cpu_s.get(stage, 0.0) + cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{stage: {"wall_s": ..., "cpu_s": ...}}``, rounded to milliseconds."""
        return {stage: {"wall_s": round(self.wall_s[stage], 3), "cpu_s": round(self.cpu_s[stage], 3)}
                for stage in self.wall_s}

    def text(self) -> str:
        """One line: ``stage 12.3 s (CPU 20.1 s), ...``."""
        return ", ".join(f"{stage} {self.wall_s[stage]:.1f} s (CPU {self.cpu_s[stage]:.1f} s)"
                         for stage in self.wall_s)
