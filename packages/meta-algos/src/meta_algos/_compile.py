"""Compiled meta-gradients: a bounded cache of ``torch.compile``d pure functions.

The algorithms build one pure `torch.func` function of (parameters, buffers, task tensors)
per input layout; this module compiles it, bounds how many layouts are compiled, records the
compile time and falls back to eager mode (with one warning naming the cause) when compiling
fails.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import torch
from torch import Tensor

_R = TypeVar("_R")

#: How many input layouts (shapes, dtypes, devices, schedule) one algorithm compiles.
MAX_COMPILED_LAYOUTS = 8


def compile_options(compile: object) -> dict[str, Any] | None:
    """Check the ``compile`` argument of an algorithm and return ``torch.compile``'s kwargs.

    Args:
        compile: ``False`` (eager), ``True`` (compile with ``dynamic=False`` and
            ``fullgraph=True``) or a dict of keyword arguments for `torch.compile` that
            override those defaults.

    Returns:
        ``None`` for ``False``, otherwise the keyword arguments to compile with.

    Raises:
        TypeError: If ``compile`` is neither a bool nor a dict with string keys.
    """
    if compile is False:
        return None
    if compile is True:
        return {"dynamic": False, "fullgraph": True}
    if isinstance(compile, dict) and all(isinstance(key, str) for key in compile):
        return {"dynamic": False, "fullgraph": True, **compile}
    raise TypeError(
        "compile must be a bool or a dict of torch.compile keyword arguments (e.g. "
        f"{{'mode': 'max-autotune'}}), got {type(compile).__name__}"
    )


def layout(*tensors: Tensor) -> tuple[tuple[object, ...], ...]:
    """The shapes, dtypes and devices of ``tensors``: what a compiled function is keyed by."""
    return tuple((tuple(t.shape), t.dtype, t.device) for t in tensors)


class CompiledSteps:
    """The compiled meta-gradient functions of one algorithm, keyed by input layout.

    Recompile policy: every new key (input shapes, dtypes and devices, inner steps, derivative
    order, which query losses count, training flags, loss function) compiles one new function
    with ``dynamic=False``; at most [`MAX_COMPILED_LAYOUTS`][] keys are compiled, and calls
    with further keys run eagerly (one warning). If compiling or running a compiled function
    raises, the eager path is run instead: when it succeeds, compiling is switched off for
    good with one warning that names the cause; when it raises too, its error (the user's
    error, e.g. a non-scalar loss) propagates and the key is tried again next time.

    Args:
        options: Keyword arguments for `torch.compile`.

    Attributes:
        compile_seconds: Total wall time of the first call of every compiled function (the
            compile time plus one run), in seconds.
        disabled: Why compiling was switched off, or ``None`` while it is on.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)
        self.compile_seconds = 0.0
        self.disabled: str | None = None
        self._functions: dict[Hashable, Callable[..., Any]] = {}
        self._warned_full = False

    def __deepcopy__(self, memo: dict[int, object]) -> CompiledSteps:
        """A copy with the same options and no compiled functions (they close over the owner)."""
        return CompiledSteps(self.options)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the options only; compiled functions are rebuilt on first use."""
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore from [`__getstate__`][]."""
        self.__init__(state["options"])  # type: ignore[misc]  # re-initialise in place

    def __len__(self) -> int:
        """How many functions are compiled."""
        return len(self._functions)

    def run(
        self,
        key: Hashable,
        build: Callable[[], Callable[..., Any]],
        args: tuple[Any, ...],
        *,
        finish: Callable[[Any], _R],
        eager: Callable[[], _R],
    ) -> _R:
        """Call the function compiled for ``key`` on ``args`` and ``finish`` its output.

        Args:
            key: The input layout and static settings the function was built for.
            build: Builds the pure function to compile (called once per new key).
            args: Its arguments.
            finish: Turns the compiled function's output into the result (e.g. adds the
                meta-gradient to ``.grad``); not called when the eager path runs.
            eager: Computes the same result eagerly.

        Returns:
            What ``finish`` or ``eager`` returned.
        """
        if self.disabled is not None:
            return eager()
        function = self._functions.get(key)
        first_call = function is None
        start = time.perf_counter()
        if function is None and len(self._functions) >= MAX_COMPILED_LAYOUTS:
            self._warn_full()
            return eager()
        try:
            if function is None:  # unknown options raise here
                function = torch.compile(build(), **self.options)
            output = _call_with_lifted_limit(function, args)
        except Exception as error:
            self._functions.pop(key, None)
            result = eager()  # raises the user's own error, if that was the cause
            self._disable(error)
            return result
        if first_call:
            self.compile_seconds += time.perf_counter() - start
            self._functions[key] = function
        return finish(output)

    def _warn_full(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            warnings.warn(
                f"meta_gradient has compiled {MAX_COMPILED_LAYOUTS} input layouts (task "
                "shapes, dtypes, inner steps, training modes), its bound; calls with other "
                "layouts run eagerly (fix the meta-batch shapes to stay compiled)",
                RuntimeWarning,
                stacklevel=4,
            )

    def _disable(self, error: Exception) -> None:
        # a backend's own error is wrapped (BackendCompilerFailed): name the inner one
        cause = getattr(error, "inner_exception", None) or error
        first_line = (str(cause).strip().splitlines() or [""])[0]
        self.disabled = f"{type(cause).__name__}: {first_line}"
        self._functions.clear()
        warnings.warn(
            f"torch.compile of the meta-gradient failed ({self.disabled}); running eagerly "
            "from now on (construct the algorithm with compile=False to silence this)",
            RuntimeWarning,
            stacklevel=4,
        )


def _call_with_lifted_limit(function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``function(*args)`` with dynamo's per-code-object recompile bound lifted to 64.

    The compiled functions of every algorithm in the process share code objects, so their
    count can pass dynamo's default bound of 8. Set and restored directly: the config's
    ``patch`` context costs tens of microseconds a call, a measurable share of a compiled
    sinusoid meta-step.
    """
    config = torch._dynamo.config
    previous = config.recompile_limit
    config.recompile_limit = max(int(previous), 64)
    try:
        return function(*args)
    finally:
        config.recompile_limit = previous
