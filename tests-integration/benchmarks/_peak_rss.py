"""Peak resident memory of a piece of work, for the CPU benchmarks (Linux only).

Writing ``5`` to ``/proc/self/clear_refs`` resets the process's peak resident set size
(``VmHWM``) to its current size, so what was allocated before (the torch import, anything
inherited from a parent: ``ru_maxrss`` survives ``fork``/``exec``) does not mask the peak of
the work that follows. Run the work in a fresh subprocess so earlier work cannot leave freed
but still-resident memory behind.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not found in /proc/self/status")


def peak_rss_growth_bytes(work: Callable[[], object]) -> int:
    """Run ``work`` and return how far the peak RSS rose above the RSS right before it."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    baseline = _status_kib("VmRSS")
    work()
    return (_status_kib("VmHWM") - baseline) * 1024


def hand_back_freed_memory() -> None:
    """Return the memory this process has freed to the operating system (glibc's ``malloc_trim``).

    Called after a compiling first call, whose peak is far above the meta-steps', so that the
    peak measured next is the meta-steps' own, not memory the allocator still holds.
    """
    ctypes.CDLL("libc.so.6").malloc_trim(0)
