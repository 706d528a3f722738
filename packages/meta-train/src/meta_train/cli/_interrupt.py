"""SIGINT and SIGTERM during a ``meta-train`` run: finish the meta-iteration, then stop.

While a run is set up and meta-trained, the first signal only asks it to stop: the current
meta-iteration finishes and the run saves its checkpoint. A second signal, or one during the
final evaluation (when the checkpoint is already complete), stops at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_status(signum: int) -> int:
    """The shell's status for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class StopRequested(BaseException):
    """Raised between meta-iterations once a signal asked the run to stop.

    A `BaseException`, like `KeyboardInterrupt`: a control-flow signal, not an error, that
    no ``except Exception`` in the training loop may swallow.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Aborted(BaseException):
    """Raised from the signal handler when the run must stop at once (a `BaseException` too)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interrupts:
    """Context manager that handles SIGINT and SIGTERM while it is entered.

    Outside the main thread (where Python cannot install handlers) it does nothing.

    Attributes:
        graceful: Whether a first signal only asks to stop (`check` then raises
            `StopRequested`); when ``False`` every signal raises `Aborted` at once.
        signum: The signal that asked to stop, or ``None``.
    """

    def __init__(self) -> None:
        self.graceful = True
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.graceful or self.signum is not None:
            raise Aborted(signum)
        self.signum = signum
        print(
            f"\n{signal.Signals(signum).name}: finishing the current meta-iteration, then "
            "saving the checkpoint (send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def check(self) -> None:
        """Raise `StopRequested` if a signal asked the run to stop."""
        if self.signum is not None:
            raise StopRequested(self.signum)
