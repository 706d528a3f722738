"""MAML and its learners: the stateful shell over meta-functional's differentiable steps."""

from __future__ import annotations

import contextlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from meta_functional import GradMode, adapt_trajectory, inner_step
from meta_functional.checks import (
    check_finite_rate,
    check_flag,
    check_module,
    check_non_negative_int,
    check_scalar_loss,
)
from torch import Tensor, nn
from torch.func import functional_call, grad

from ._batching import TASK_FIELDS, chunk_by_chunk, map_over_tasks, stack_tasks, task_by_task
from ._batchnorm import PrimitiveBatchNormMode
from ._checks import check_batchable, check_task_stacks, resolve_adapt_names
from ._compile import CompiledSteps, compile_options, layout
from ._protocol import MetaGradient, TaskData, same_layout, task_list
from ._typing import LossFn

#: Inner-loop step sizes for one step: one float for every parameter or one tensor per name.
StepRates = float | dict[str, Tensor]
#: The differentiated inputs of a compiled meta-gradient: module ``"params"`` and ``"rates"``.
_State = dict[str, dict[str, Tensor]]

_CHECKPOINT_COMPILE = (
    "checkpoint_inner=True cannot be compiled: the compiled meta-gradient takes its inner "
    "gradients with torch.func.grad, which does not support torch.utils.checkpoint's "
    "saved-tensor hooks; use compile=False or checkpoint_inner=False"
)


@dataclass(frozen=True)
class _Plan:
    """What the Python-side schedules fix for one meta-gradient (static under compile).

    Attributes:
        steps: Number of inner steps.
        first_order: Whether inner gradients are differentiated again.
        counted: Which steps' query losses count (non-zero weights, and always the last
            step), or ``None`` for the final query loss only.
    """

    steps: int
    first_order: bool
    counted: tuple[bool, ...] | None


def has_tied_tensors(module: nn.Module) -> bool:
    """Whether ``module`` reaches one parameter or buffer under several names."""
    seen: set[int] = set()
    for _, tensor in [
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ]:
        if id(tensor) in seen:
            return True
        seen.add(id(tensor))
    return False


class MAML(nn.Module):
    """Model-agnostic meta-learning (MAML) wrapper for any `torch.nn.Module`.

    The wrapped module is registered as the submodule ``module``; its parameters are the
    meta-parameters (``maml.parameters()``, so hand them to the meta-optimizer). Per task,
    [`clone`][meta_algos.MAML.clone] gives a [`Learner`][meta_algos.Learner] that adapts a private
    copy of the parameters with differentiable gradient steps; back-propagating a loss of the
    adapted learner accumulates meta-gradients into ``maml.parameters()``.
    [`query_loss`][meta_algos.MAML.query_loss] does this for one task and
    [`batched_query_loss`][meta_algos.MAML.batched_query_loss] for a stack of tasks in one
    vectorised pass.

    The module's parameter names (and whether it ties weights) are read at construction:
    wrap the module after its final structure is built.

    Args:
        module: The model to meta-train.
        inner_lr: Inner-loop step size.
        inner_steps: Default number of inner gradient steps (``>= 0``).
        first_order: If ``True``, drop second-order terms (FOMAML): inner gradients are not
            differentiated again.
        adapt_names: Subset of ``module``'s parameter names to adapt in the inner loop; the
            others stay at their meta-values (but still receive meta-gradients). ``None``
            adapts all parameters.
        allow_unused: If ``False``, an adapted parameter that the support loss does not depend
            on is an error in [`Learner.adapt`][meta_algos.Learner.adapt]; if ``True`` it is left
            unchanged.
        compile: Compile [`meta_gradient`][meta_algos.MAML.meta_gradient] with
            `torch.compile`: ``True``, or a dict of keyword arguments for `torch.compile`
            (defaults ``dynamic=False, fullgraph=True``). See
            [`set_compile`][meta_algos.MAML.set_compile] for what is compiled, the recompile
            policy and the eager fallback.
        task_chunk: Tasks per vectorised pass of
            [`meta_gradient`][meta_algos.MAML.meta_gradient] with ``batched=True``; ``None``
            puts all tasks in one pass. See [`task_chunk`][meta_algos.MAML.task_chunk].
        checkpoint_inner: Recompute each inner step in the backward pass instead of keeping
            its activations. See [`checkpoint_inner`][meta_algos.MAML.checkpoint_inner].

    Raises:
        TypeError: If ``module`` is not a module, ``adapt_names`` is a string, ``inner_lr`` is
            not a number, a flag is not a bool, or ``compile`` is neither a bool nor a dict.
        ValueError: If ``inner_lr`` is negative or not finite, ``inner_steps`` is negative,
            ``module`` has no parameters, ``adapt_names`` is empty, ``task_chunk`` is not a
            positive int or ``None``, or ``checkpoint_inner`` is combined with ``compile``.
        KeyError: If ``adapt_names`` names something that is not a parameter of ``module``.

    Examples:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        >>> maml = MAML(net, inner_lr=0.1)
        >>> x, y = torch.randn(5, 1), torch.randn(5, 1)
        >>> learner = maml.clone()
        >>> learner = learner.adapt(F.mse_loss(learner(x), y))
        >>> F.mse_loss(learner(x), y).backward()
        >>> all(p.grad is not None for p in maml.parameters())
        True

    References:
        Finn, Abbeel and Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
        Networks", ICML 2017.
    """

    meta_iteration_count: Tensor

    def __init__(
        self,
        module: nn.Module,
        inner_lr: float = 0.01,
        inner_steps: int = 1,
        *,
        first_order: bool = False,
        adapt_names: Iterable[str] | None = None,
        allow_unused: bool = True,
        compile: bool | dict[str, Any] = False,
        task_chunk: int | None = None,
        checkpoint_inner: bool = False,
    ) -> None:
        super().__init__()
        self.module = check_module(module)
        self.inner_lr = check_finite_rate(inner_lr)
        self.inner_steps = check_non_negative_int(inner_steps, "inner_steps")
        self.first_order = check_flag(first_order, "first_order")
        self.allow_unused = check_flag(allow_unused, "allow_unused")
        self._adapt_names = resolve_adapt_names(dict(module.named_parameters()), adapt_names)
        # Read once: functional_call's weight-tying pass costs O(#tensors) Python per call.
        self._tie_weights = has_tied_tensors(module)
        self.register_buffer("meta_iteration_count", torch.zeros((), dtype=torch.long))
        self._init_learned_state()
        self._compiled: CompiledSteps | None = None
        self.task_chunk = task_chunk
        self.checkpoint_inner = checkpoint_inner
        self.set_compile(compile)

    @property
    def task_chunk(self) -> int | None:
        """Tasks per vectorised pass of ``meta_gradient(..., batched=True)``, or ``None`` for all.

        With a chunk size ``k``, [`meta_gradient`][meta_algos.MAML.meta_gradient] adapts the
        tasks ``k`` at a time under `torch.func.vmap` and back-propagates each chunk before
        the next starts (the last chunk holds the remaining tasks), so only one chunk's graph
        is alive: peak memory scales with ``k`` rather than with the meta-batch. The
        meta-gradient is that of the mean over all tasks, the same as without chunks and as
        the per-task loop (up to rounding). Compiled (``compile=``), each chunk is one call
        of the compiled function, so a smaller last chunk compiles one more layout.
        [`batched_query_loss`][meta_algos.MAML.batched_query_loss] returns one loss for the
        caller's backward, so it always adapts all its tasks in one pass.

        Raises:
            ValueError: If set to something other than a positive int or ``None``.

        Examples:
            >>> maml = MAML(torch.nn.Linear(1, 1), task_chunk=4)
            >>> maml.task_chunk
            4
        """
        return self._task_chunk

    @task_chunk.setter
    def task_chunk(self, value: int | None) -> None:
        self._task_chunk = (
            None if value is None else check_non_negative_int(value, "task_chunk", minimum=1)
        )

    @property
    def checkpoint_inner(self) -> bool:
        """Whether each inner step runs under `torch.utils.checkpoint` (per-task loop only).

        When ``True``, [`query_loss`][meta_algos.MAML.query_loss] and the per-task loop of
        [`meta_gradient`][meta_algos.MAML.meta_gradient] run every inner step under
        `torch.utils.checkpoint.checkpoint` (``use_reentrant=False``, via meta-functional's
        ``adapt_trajectory(checkpoint_steps=True)``): the activations of a step's support
        pass are recomputed during the backward pass instead of kept, which slows the growth
        of memory with the number of inner steps (measured on an MLP with 20 steps: about a
        third less growth per step, for a fixed overhead and about twice the time; it pays
        for long inner loops only). The meta-gradient, second order included, is unchanged.

        Not available where inner gradients come from `torch.func.grad`, which does not
        support the saved-tensor hooks of checkpointing: ``meta_gradient(..., batched=True)``
        and [`batched_query_loss`][meta_algos.MAML.batched_query_loss] raise ``ValueError``,
        and compiling ([`set_compile`][meta_algos.MAML.set_compile]) is refused. BatchNorm
        layers that update running statistics are refused too (recomputing a step would
        update them twice). [`Learner.adapt`][meta_algos.Learner.adapt], which steps from a
        loss the caller already computed, does not checkpoint.

        Raises:
            TypeError: If set to something other than a bool.
            ValueError: If set to ``True`` while compiling is on.

        Examples:
            >>> MAML(torch.nn.Linear(1, 1), checkpoint_inner=True).checkpoint_inner
            True
        """
        return self._checkpoint_inner

    @checkpoint_inner.setter
    def checkpoint_inner(self, value: bool) -> None:
        if check_flag(value, "checkpoint_inner") and self._compiled is not None:
            raise ValueError(_CHECKPOINT_COMPILE)
        self._checkpoint_inner = value

    def set_compile(self, compile: bool | dict[str, Any]) -> None:
        """Switch compiling of [`meta_gradient`][meta_algos.MAML.meta_gradient] on or off.

        When on, the whole meta-gradient of a batch of tasks (inner loop, query loss, outer
        gradient) is one compiled pure `torch.func` function of (parameters, learned rates,
        buffers, task tensors): `torch.func.grad` of the mean over `torch.func.vmap` of the
        task objective (``batched=True``), or of one task's objective, called per task and
        summed (the loop). It runs the same step rule as the eager path (meta-functional's
        ``adapt_trajectory`` with ``grad_mode="func"``), so the result is the eager one up to
        rounding. [`adapted_predictions`][meta_algos.MAML.adapted_predictions] (evaluation)
        stays eager.

        Recompile policy: a function is compiled with ``dynamic=False`` for every new input
        layout (the shapes, dtypes and devices of the tasks' tensors, the number of inner
        steps, the derivative order, which MAML++ query losses count, the modules' training
        flags and the loss function); at most 8 layouts are compiled, and further ones run
        eagerly with one warning, so a smaller last meta-batch costs one compile and never
        an unbounded number. MAML++'s step weights are inputs, so annealing them does not
        recompile.

        Eager fallback: if compiling fails (no C++ compiler, an unsupported operation), the
        meta-gradient is computed eagerly and compiling is switched off, with one
        ``RuntimeWarning`` naming the cause. BatchNorm layers that update running statistics
        (training mode with ``track_running_stats=True``) cannot run inside a pure function:
        such calls run eagerly, with one warning. Also unlike the eager loop,
        ``allow_unused=False`` is not checked on compiled calls, and a meta-parameter that
        the objective does not use gets a zero ``.grad`` rather than none.
        [`compile_seconds`][meta_algos.MAML.compile_seconds] records the compile time.

        Args:
            compile: ``False``, ``True``, or a dict of keyword arguments for `torch.compile`.

        Raises:
            TypeError: If ``compile`` is neither a bool nor a dict with string keys.
            ValueError: If compiling is asked for while
                [`checkpoint_inner`][meta_algos.MAML.checkpoint_inner] is on.

        Examples:
            >>> maml = MAML(torch.nn.Linear(1, 1))
            >>> maml.set_compile({"mode": "reduce-overhead"})
            >>> maml.compile_options
            {'dynamic': False, 'fullgraph': True, 'mode': 'reduce-overhead'}
        """
        options = compile_options(compile)
        if options is not None and self.checkpoint_inner:
            raise ValueError(_CHECKPOINT_COMPILE)
        self._compiled = None if options is None else CompiledSteps(options)
        self._warned_running_stats = False

    @property
    def compile_options(self) -> dict[str, Any] | None:
        """The `torch.compile` keyword arguments in use, or ``None`` when eager."""
        return None if self._compiled is None else dict(self._compiled.options)

    @property
    def compile_seconds(self) -> float:
        """Wall time of the first call of every compiled function so far (0.0 if none).

        The first call of a compiled function compiles it and runs it once; later calls
        only run it, so this is the compile time a run paid, in seconds.
        """
        return 0.0 if self._compiled is None else self._compiled.compile_seconds

    def _init_learned_state(self) -> None:
        """Create learnable inner-loop state (e.g. rates); a subclass hook, nothing in MAML."""

    @property
    def adapt_names(self) -> tuple[str, ...]:
        """The names of the parameters adapted in the inner loop, in ``module`` order."""
        return self._adapt_names

    @property
    def meta_iteration(self) -> int:
        """Number of meta-updates so far (a buffer, so it is saved in ``state_dict``)."""
        return int(self.meta_iteration_count.item())

    @meta_iteration.setter
    def meta_iteration(self, value: int) -> None:
        self.meta_iteration_count.fill_(check_non_negative_int(value, "meta_iteration"))

    def advance_iteration(self) -> int:
        """Count one meta-update; call it after each meta-optimizer step.

        Schedules that depend on training progress ([`MAMLpp`][meta_algos.MAMLpp]'s loss weights and
        derivative order) read [`meta_iteration`][meta_algos.MAML.meta_iteration].

        Returns:
            The new value of [`meta_iteration`][meta_algos.MAML.meta_iteration].

        Examples:
            >>> maml = MAML(torch.nn.Linear(1, 1))
            >>> maml.advance_iteration()
            1
        """
        self.meta_iteration_count.add_(1)
        return self.meta_iteration

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the unadapted module (the meta-parameters).

        Args:
            *args: Positional arguments of the module's ``forward``.
            **kwargs: Keyword arguments of the module's ``forward``.

        Returns:
            Whatever the wrapped module returns.

        Examples:
            >>> MAML(torch.nn.Linear(2, 3))(torch.ones(4, 2)).shape
            torch.Size([4, 3])
        """
        return self.module(*args, **kwargs)

    def clone(self) -> Learner:
        """Create a fresh [`Learner`][meta_algos.Learner] starting from the current meta-parameters.

        The learner references the module's live parameter leaves, so ``backward()`` through
        an adapted learner accumulates meta-gradients into ``self.parameters()``. Learners
        are independent of each other and never modify the module.

        Returns:
            A new, unadapted learner.

        Examples:
            >>> maml = MAML(torch.nn.Linear(1, 1))
            >>> maml.clone().params["weight"] is maml.module.weight
            True
        """
        return Learner(self, first_order=self.uses_first_order())

    def uses_first_order(self) -> bool:
        """Whether inner steps currently drop second-order terms.

        Returns:
            ``first_order`` for [`MAML`][meta_algos.MAML]; [`MAMLpp`][meta_algos.MAMLpp] anneals it
            over iterations.
        """
        return self.first_order

    def step_rates(self, step: int) -> StepRates:
        """The inner-loop step sizes used at inner step ``step`` (0-based).

        Args:
            step: Index of the inner step.

        Returns:
            ``inner_lr`` for [`MAML`][meta_algos.MAML]; a mapping name -> learnable rate tensor for
            [`MetaSGD`][meta_algos.MetaSGD] and [`MAMLpp`][meta_algos.MAMLpp].

        Examples:
            >>> MAML(torch.nn.Linear(1, 1), inner_lr=0.5).step_rates(0)
            0.5
        """
        del step
        return self.inner_lr

    def query_step_weights(self, steps: int) -> list[float] | None:
        """Weights of the query losses after each inner step, or ``None`` for the last only.

        Args:
            steps: Number of inner steps.

        Returns:
            ``None`` for [`MAML`][meta_algos.MAML] (only the final query loss counts);
            [`MAMLpp`][meta_algos.MAMLpp] returns its multi-step-loss weights.
        """
        del steps
        return None

    def _resolve_steps(self, steps: int | None) -> int:
        if steps is None:
            return self.inner_steps
        return check_non_negative_int(steps, "steps")

    def query_loss(
        self,
        loss_fn: LossFn,
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
        *,
        steps: int | None = None,
    ) -> Tensor:
        """Adapt a fresh learner on one task's support set and return its query loss.

        Args:
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            support_x: Support inputs of one task.
            support_y: Support targets of one task.
            query_x: Query inputs of the same task.
            query_y: Query targets of the same task.
            steps: Number of inner steps; ``None`` uses ``inner_steps``.

        Under ``torch.no_grad()`` the inner loop still runs with gradients and the returned
        loss carries no graph (for evaluation).

        Returns:
            The scalar post-adaptation query loss (for [`MAMLpp`][meta_algos.MAMLpp], the weighted
            sum of the query losses after each step), differentiable w.r.t. ``self.parameters()``.

        Raises:
            ValueError: If ``steps`` is negative or a loss is not a scalar.

        Examples:
            >>> import torch.nn.functional as F
            >>> maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
            >>> x, y = torch.randn(4, 1), torch.randn(4, 1)
            >>> maml.query_loss(F.mse_loss, x, y, x, y, steps=2).shape
            torch.Size([])
        """
        return self._task_objective(
            loss_fn, support_x, support_y, query_x, query_y, steps=steps, grad_mode="autograd"
        )[0]

    def _forward(self, params: dict[str, Tensor], x: Tensor, grad_mode: GradMode) -> Any:
        """The module at ``params`` on ``x``; under ``torch.func`` with primitive-op batch norm.

        The batched (``vmap``) and compiled paths take their gradients with ``torch.func``
        (``grad_mode="func"``), where the fused batch norm's double backward is wrong (see
        ``_batchnorm``); the mode is entered around the forward alone, since it intercepts
        every torch call it sees (about 5 % of a small batched meta-step when it also spanned
        the inner gradients and updates).
        """
        with PrimitiveBatchNormMode() if grad_mode == "func" else contextlib.nullcontext():
            return functional_call(
                self.module, params, (x,), tie_weights=self._tie_weights, strict=False
            )

    def _task_objective(
        self,
        loss_fn: LossFn,
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
        *,
        steps: int | None,
        grad_mode: GradMode,
    ) -> tuple[Tensor, Tensor]:
        """One task's meta-objective and final query prediction, from the live parameters."""
        if self.checkpoint_inner:
            self._check_recomputable()
        plan, weights = self._plan(steps)
        return self._objective(
            plan,
            dict(self.module.named_parameters()),
            self._learned_rates(),
            weights,
            loss_fn,
            (support_x, support_y, query_x, query_y),
            grad_mode=grad_mode,
        )

    def _plan(self, steps: int | None) -> tuple[_Plan, list[float] | None]:
        """The static plan of a meta-objective and its query-loss weights (per step)."""
        steps = self._resolve_steps(steps)
        weights = self.query_step_weights(steps)
        counted = None
        if weights is not None:
            counted = tuple(w != 0.0 or step == steps - 1 for step, w in enumerate(weights))
        return _Plan(steps, self.uses_first_order(), counted), weights

    def _learned_rates(self) -> dict[str, Tensor]:
        """The learned inner rates by parameter name; none for [`MAML`][meta_algos.MAML]."""
        return {}

    def _at_step(
        self, params: dict[str, Tensor], learned: Mapping[str, Tensor], state: int
    ) -> dict[str, Tensor]:
        """The tensors the module runs with after ``state`` inner steps from ``params``.

        ``params`` itself for [`MAML`][meta_algos.MAML]; the hook through which
        [`MAMLpp`][meta_algos.MAMLpp] swaps in its per-step BatchNorm tensors, given the
        learned tensors ``learned`` (as `_learned_rates` names them).
        """
        del learned, state
        return params

    def _rates_at(self, rates: Mapping[str, Tensor], step: int) -> StepRates:
        """The step sizes of inner step ``step`` given the learned ``rates``."""
        del rates, step
        return self.inner_lr

    def _objective(
        self,
        plan: _Plan,
        params: dict[str, Tensor],
        rates: Mapping[str, Tensor],
        weights: Sequence[float | Tensor] | None,
        loss_fn: LossFn,
        task: Sequence[Tensor],
        *,
        grad_mode: GradMode,
    ) -> tuple[Tensor, Tensor]:
        """One task's meta-objective and final query prediction: every path's one home.

        A pure function of ``params`` (parameters, and buffers if given), ``rates``,
        ``weights`` and the task's tensors (``support_x, support_y, query_x, query_y``), so
        the batched path is this function under ``torch.func.vmap`` and the compiled paths
        are it under ``torch.func.grad`` (both with ``grad_mode="func"``).
        """
        support_x, support_y, query_x, query_y = task

        def support_loss(state: int, step_params: dict[str, Tensor]) -> Tensor:
            prediction = self._forward(
                self._at_step(step_params, rates, state), support_x, grad_mode
            )
            return check_scalar_loss(loss_fn(prediction, support_y), "the support loss")

        def query(state: int, step_params: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
            prediction = self._forward(self._at_step(step_params, rates, state), query_x, grad_mode)
            loss = check_scalar_loss(loss_fn(prediction, query_y), "the query loss")
            return loss.reshape(()), prediction

        trajectory = adapt_trajectory(
            params,
            [partial(support_loss, state) for state in range(plan.steps)],
            lr=[self._rates_at(rates, step) for step in range(plan.steps)],
            inner_steps=plan.steps,
            first_order=plan.first_order,
            adapt_names=self.adapt_names,
            allow_unused=self.allow_unused,
            grad_mode=grad_mode,
            checkpoint_steps=self.checkpoint_inner,
        )
        if weights is None or plan.counted is None:
            return query(len(trajectory), trajectory[-1] if trajectory else params)
        # the query loss of a zero-weight step is skipped; the last step always counts
        total: Tensor | float = 0.0
        states = range(1, plan.steps + 1)
        for weight, counted, state, step_params in zip(
            weights, plan.counted, states, trajectory, strict=True
        ):
            if counted:
                loss, prediction = query(state, step_params)
                total = total + weight * loss
        return torch.as_tensor(total), prediction

    def batched_query_loss(
        self,
        loss_fn: LossFn,
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
        *,
        steps: int | None = None,
    ) -> Tensor:
        """Mean post-adaptation query loss over a stack of tasks, in one vectorised pass.

        Equivalent to averaging [`query_loss`][meta_algos.MAML.query_loss] over the tasks (same
        value and same meta-gradient), but computed with `torch.func.grad` for the inner steps
        inside `torch.func.vmap` over tasks. Second order unless
        [`uses_first_order`][meta_algos.MAML.uses_first_order]; honours ``adapt_names``, learned
        rates and multi-step-loss weights.

        ``F.batch_norm`` calls are routed through a primitive-op batch norm during the pass
        (vmap over grad through the fused kernel gives wrong meta-gradients), so BatchNorm
        with ``track_running_stats=False`` normalises each task with its own statistics, as in
        the per-task loop. Random ops (dropout) draw differently per task. An adapted
        parameter that the support loss does not use gets a zero gradient (the
        ``allow_unused=True`` behaviour; ``allow_unused=False`` is not checked here).
        Under ``torch.no_grad()`` the inner gradients are still computed
        (`torch.func.grad` ignores the outer mode) and the result carries no graph. All tasks
        go through one pass: [`task_chunk`][meta_algos.MAML.task_chunk] applies to
        [`meta_gradient`][meta_algos.MAML.meta_gradient], which back-propagates each chunk
        itself.

        Args:
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            support_x: Support inputs, shape ``(tasks, shots, ...)``.
            support_y: Support targets, shape ``(tasks, shots, ...)``.
            query_x: Query inputs, shape ``(tasks, queries, ...)``.
            query_y: Query targets, shape ``(tasks, queries, ...)``.
            steps: Number of inner steps; ``None`` uses ``inner_steps``.

        Returns:
            The scalar mean query loss over tasks, differentiable w.r.t. ``self.parameters()``.

        Raises:
            ValueError: If the stacks hold different numbers of tasks, a loss is not a
                scalar, ``steps`` is invalid, a BatchNorm layer is in training mode with
                running statistics, or [`checkpoint_inner`][meta_algos.MAML.checkpoint_inner]
                is on.

        Examples:
            >>> import torch.nn.functional as F
            >>> maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
            >>> xs, ys = torch.randn(3, 4, 1), torch.randn(3, 4, 1)
            >>> maml.batched_query_loss(F.mse_loss, xs, ys, xs, ys).shape
            torch.Size([])
        """
        return self._batched_objectives(
            loss_fn, support_x, support_y, query_x, query_y, steps=steps
        )[0].mean()

    def _batched_objectives(
        self,
        loss_fn: LossFn,
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
        *,
        steps: int | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``_task_objective`` of every task of the stacks at once, under ``vmap``."""
        if self.checkpoint_inner:
            raise ValueError(
                "checkpoint_inner=True applies to the per-task loop only: the batched path "
                "takes its inner gradients with torch.func.grad under vmap, which does not "
                "support torch.utils.checkpoint's saved-tensor hooks; use batched=False (or "
                "query_loss per task), or task_chunk to bound the batched path's memory"
            )
        check_task_stacks(support_x, support_y, query_x, query_y)

        def one_task(sx: Tensor, sy: Tensor, qx: Tensor, qy: Tensor) -> tuple[Tensor, Tensor]:
            return self._task_objective(loss_fn, sx, sy, qx, qy, steps=steps, grad_mode="func")

        objectives: tuple[Tensor, Tensor] = map_over_tasks(
            self.module, one_task, support_x, support_y, query_x, query_y
        )
        return objectives

    def meta_gradient(
        self, tasks: Sequence[TaskData], loss_fn: LossFn, *, batched: bool = False
    ) -> MetaGradient:
        """Accumulate the gradient of the mean meta-objective over ``tasks`` into ``.grad``.

        The [`MetaAlgorithm`][meta_algos.MetaAlgorithm] step a training loop calls: like
        ``backward()`` on the mean of [`query_loss`][meta_algos.MAML.query_loss] over the
        tasks (existing ``.grad`` values are added to, not replaced). With ``batched=True``
        and tasks whose tensors all share shapes, dtypes and devices, every task is adapted
        in vectorised passes of [`task_chunk`][meta_algos.MAML.task_chunk] tasks (all at
        once by default, as [`batched_query_loss`][meta_algos.MAML.batched_query_loss]),
        back-propagating each chunk before the next; otherwise task by task,
        back-propagating each before the next to bound memory.

        Args:
            tasks: The tasks of this meta-update (objects with ``support_x``, ``support_y``,
                ``query_x`` and ``query_y``, e.g. ``meta_tasks.Task``).
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            batched: Adapt all tasks in one ``vmap`` pass when they stack.

        Returns:
            The per-task objectives and query predictions, detached.

        Raises:
            TypeError: If ``tasks`` is not a sequence of tasks.
            ValueError: If ``tasks`` is empty, ``batched`` is combined with
                [`checkpoint_inner`][meta_algos.MAML.checkpoint_inner] for tasks that stack,
                or for any error of [`query_loss`][meta_algos.MAML.query_loss].

        Examples:
            >>> import torch.nn.functional as F
            >>> from types import SimpleNamespace
            >>> maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
            >>> x, y = torch.randn(4, 1), torch.randn(4, 1)
            >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
            >>> maml.meta_gradient([task, task], F.mse_loss).losses.shape
            torch.Size([2])
            >>> maml.module.weight.grad is not None
            True
        """
        checked = task_list(tasks, "meta_gradient")
        stackable = batched and same_layout(checked)
        if self._compiled is None or not self._compilable():
            return self._eager_meta_gradient(checked, loss_fn, stackable=stackable)
        return self._compiled_meta_gradient(self._compiled, checked, loss_fn, stackable=stackable)

    def _eager_meta_gradient(
        self, tasks: list[TaskData], loss_fn: LossFn, *, stackable: bool
    ) -> MetaGradient:
        if stackable:
            return chunk_by_chunk(
                tasks, self._chunk_size(tasks), partial(self._eager_chunk_step, loss_fn=loss_fn)
            )
        return task_by_task(tasks, lambda task, _: self._eager_task_step(task, loss_fn, len(tasks)))

    def _chunk_size(self, tasks: Sequence[TaskData]) -> int:
        return len(tasks) if self.task_chunk is None else self.task_chunk

    def _eager_chunk_step(
        self, chunk: Sequence[TaskData], share: float, *, loss_fn: LossFn
    ) -> tuple[Tensor, list[Tensor]]:
        """One chunk of the eager batched path: back-propagate ``share`` times its mean."""
        losses, predictions = self._batched_objectives(loss_fn, *stack_tasks(chunk))
        torch.autograd.backward(losses.mean() if share == 1.0 else losses.mean() * share)
        return losses.detach(), list(predictions.detach().unbind(0))

    def _check_recomputable(self) -> None:
        """Raise if a checkpointed inner step would update BatchNorm running stats twice."""
        try:
            check_batchable(self.module)
        except ValueError as error:
            raise ValueError(
                "checkpoint_inner=True recomputes every inner step in the backward pass, which "
                "would update BatchNorm running statistics twice; construct the BatchNorm "
                "layers with track_running_stats=False, call .eval(), or use "
                "checkpoint_inner=False"
            ) from error

    def _eager_task_step(
        self, task: TaskData, loss_fn: LossFn, count: int
    ) -> tuple[Tensor, Tensor]:
        """One task's share of the eager loop: back-propagate its objective over ``count``."""
        loss, prediction = self._task_objective(
            loss_fn,
            task.support_x,
            task.support_y,
            task.query_x,
            task.query_y,
            steps=None,
            grad_mode="autograd",
        )
        torch.autograd.backward(loss / count)
        return loss.detach(), prediction.detach()

    def _compilable(self) -> bool:
        """Whether a pure function can compute the meta-gradient (no running-stat updates)."""
        try:
            check_batchable(self.module)
        except ValueError:
            if not self._warned_running_stats:
                self._warned_running_stats = True
                warnings.warn(
                    "meta_gradient runs eagerly while BatchNorm layers update running "
                    "statistics (training mode, track_running_stats=True), which a compiled "
                    "pure function cannot do; construct them with track_running_stats=False "
                    "to compile",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return False
        return True

    def _compiled_meta_gradient(
        self, compiled: CompiledSteps, tasks: list[TaskData], loss_fn: LossFn, *, stackable: bool
    ) -> MetaGradient:
        plan, weights = self._plan(None)
        live: _State = {
            "params": dict(self.module.named_parameters()),
            "rates": self._learned_rates(),
        }
        trainable, fixed = self._compiled_inputs(plan, live)
        reference = next(self.module.parameters())
        weight_tensor = (
            None
            if weights is None
            else torch.tensor(weights, dtype=reference.dtype, device=reference.device)
        )
        static = (
            plan,
            loss_fn,
            tuple(module.training for module in self.module.modules()),
            layout(*trainable["params"].values(), *trainable["rates"].values()),
        )

        def build() -> Callable[..., Any]:
            return self._meta_step(plan, loss_fn, batched=stackable)

        if stackable:

            def chunk_step(chunk: Sequence[TaskData], share: float) -> tuple[Tensor, list[Tensor]]:
                stacks = stack_tasks(chunk)
                check_task_stacks(*stacks)

                def finish_batch(
                    output: tuple[_State, tuple[Tensor, Tensor]],
                ) -> tuple[Tensor, list[Tensor]]:
                    grads, (losses, predictions) = output
                    self._add_meta_gradient(live, grads, share)
                    return losses, list(predictions.unbind(0))

                return compiled.run(
                    (True, static, layout(*stacks)),
                    build,
                    (trainable, fixed, weight_tensor, *stacks),
                    finish=finish_batch,
                    eager=partial(self._eager_chunk_step, chunk, share, loss_fn=loss_fn),
                )

            return chunk_by_chunk(tasks, self._chunk_size(tasks), chunk_step)

        def finish_task(output: tuple[_State, tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
            grads, (loss, prediction) = output
            self._add_meta_gradient(live, grads, 1.0 / len(tasks))
            return loss, prediction

        def task_step(task: TaskData, _: float) -> tuple[Tensor, Tensor]:
            fields = [getattr(task, field) for field in TASK_FIELDS]
            return compiled.run(
                (False, static, layout(*fields)),
                build,
                (trainable, fixed, weight_tensor, *fields),
                finish=finish_task,
                eager=partial(self._eager_task_step, task, loss_fn, len(tasks)),
            )

        return task_by_task(tasks, task_step)

    def _compiled_inputs(self, plan: _Plan, live: _State) -> tuple[_State, _State]:
        """``(trainable, fixed)``: what the meta-gradient differentiates, and the rest.

        Parameters and learned rates that require grad are differentiated (rates only when
        there are inner steps, so that unused rates get no ``.grad``, as in eager mode);
        frozen ones and the module's buffers are fixed. All are detached. ``live`` holds the
        module's parameters and learned rates by group (``"params"``, ``"rates"``).
        """
        trainable: _State = {"params": {}, "rates": {}}
        fixed: _State = {"params": dict(self.module.named_buffers()), "rates": {}}
        for group, tensors in live.items():
            for name, tensor in tensors.items():
                differentiated = tensor.requires_grad and (group == "params" or plan.steps > 0)
                (trainable if differentiated else fixed)[group][name] = tensor.detach()
        return trainable, fixed

    def _meta_step(self, plan: _Plan, loss_fn: LossFn, *, batched: bool) -> Callable[..., Any]:
        """The pure function a compiled meta-gradient runs.

        ``meta_step(trainable, fixed, weights, *task)`` returns the gradient of the mean
        objective w.r.t. ``trainable`` and, as auxiliary outputs, the objectives and
        predictions: of a stack of tasks (``batched``, under ``vmap``) or of one task.
        """

        def objective(
            state: _State, fixed: _State, weights: Tensor | None, task: tuple[Tensor, ...]
        ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
            # Under torch.compile, an input of torch.func.grad reports requires_grad=False
            # (torch 2.13), which would make adapt_trajectory skip it; a copy reports True.
            adapted = {name: tensor.clone() for name, tensor in state["params"].items()}
            params = {**fixed["params"], **adapted}
            rates = {**fixed["rates"], **state["rates"]}
            step_weights = None if weights is None else list(weights.unbind(0))

            def one_task(*tensors: Tensor) -> tuple[Tensor, Tensor]:
                return self._objective(
                    plan, params, rates, step_weights, loss_fn, tensors, grad_mode="func"
                )

            if not batched:
                # grad_mode="func": the same primitive-op batch norm as the batched path (the
                # fused kernel's double backward is wrong under vmap and unverified compiled)
                loss, prediction = one_task(*task)
                return loss, (loss, prediction)
            losses, predictions = map_over_tasks(self.module, one_task, *task)
            return losses.mean(), (losses, predictions)

        def meta_step(
            trainable: _State, fixed: _State, weights: Tensor | None, *task: Tensor
        ) -> tuple[_State, tuple[Tensor, Tensor]]:
            result: tuple[_State, tuple[Tensor, Tensor]] = grad(objective, has_aux=True)(
                trainable, fixed, weights, task
            )
            return result

        return meta_step

    @staticmethod
    def _add_meta_gradient(live: _State, grads: _State, scale: float) -> None:
        """Add ``scale`` times the compiled meta-gradient ``grads`` to ``live``'s ``.grad``."""
        for group, gradients in grads.items():
            for name, gradient in gradients.items():
                tensor = live[group][name]
                share = gradient if scale == 1.0 else gradient * scale
                if tensor.grad is None:
                    tensor.grad = share
                else:
                    tensor.grad.add_(share)

    def adapted_predictions(
        self, task: TaskData, loss_fn: LossFn, *, steps: int | None = None
    ) -> Tensor:
        """Adapt on ``task``'s support set and return its query predictions, detached.

        Nothing reaches the meta-parameters' ``.grad``; the inner loop runs with gradients
        even under ``torch.no_grad()``.

        Args:
            task: One task (``support_x``, ``support_y``, ``query_x``, ``query_y``).
            loss_fn: The support loss ``loss_fn(prediction, target) -> scalar tensor``.
            steps: Inner steps; ``None`` uses ``inner_steps``; ``0`` gives the predictions of
                the meta-parameters themselves.

        Returns:
            The model's output on ``task.query_x`` after adaptation.

        Raises:
            ValueError: If ``steps`` is invalid, or for any error of the inner loop.

        Examples:
            >>> import torch.nn.functional as F
            >>> from types import SimpleNamespace
            >>> maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
            >>> x, y = torch.randn(4, 1), torch.randn(4, 1)
            >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
            >>> maml.adapted_predictions(task, F.mse_loss, steps=2).requires_grad
            False
        """
        learner = self.clone()
        learner.adapt_on(loss_fn, task.support_x, task.support_y, steps=steps)
        with torch.no_grad():
            prediction: Tensor = learner(task.query_x)
        return prediction.detach()


class Learner:
    """A single adaptable copy of a [`MAML`][meta_algos.MAML] module's parameters.

    Created by [`MAML.clone`][meta_algos.MAML.clone]. It starts from the module's live parameters
    and replaces its parameter mapping with each [`adapt`][meta_algos.Learner.adapt] call; calling
    the learner runs a stateless forward pass of the module with the current (possibly adapted)
    parameters. The module's buffers are used as they are (a BatchNorm in training mode with running
    statistics updates them, as in a normal forward pass).

    Args:
        maml: The wrapper whose module and inner-loop settings the learner uses.
        first_order: Whether the inner steps drop second-order terms.

    Examples:
        >>> import torch.nn.functional as F
        >>> maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
        >>> x, y = torch.randn(4, 1), torch.randn(4, 1)
        >>> learner = maml.clone().adapt_on(F.mse_loss, x, y, steps=3)
        >>> learner.steps_taken
        3
    """

    def __init__(self, maml: MAML, *, first_order: bool) -> None:
        self._maml = maml
        self._module = maml.module
        self._tie_weights = maml._tie_weights
        self._params: dict[str, Tensor] = dict(maml.module.named_parameters())
        self._first_order = first_order
        self._steps_taken = 0

    @property
    def params(self) -> dict[str, Tensor]:
        """The current parameter mapping (a new dict; changing it never changes the learner)."""
        return dict(self._params)

    @property
    def steps_taken(self) -> int:
        """How many inner steps this learner has taken."""
        return self._steps_taken

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the module with the learner's current parameters.

        Args:
            *args: Positional arguments of the module's ``forward``.
            **kwargs: Keyword arguments of the module's ``forward``.

        Returns:
            Whatever the module returns.
        """
        params = self._maml._at_step(self._params, self._maml._learned_rates(), self._steps_taken)
        return functional_call(
            self._module, params, args, kwargs, tie_weights=self._tie_weights, strict=False
        )

    def adapt(self, support_loss: Tensor) -> Learner:
        """Take one differentiable inner-loop step from ``support_loss``.

        Args:
            support_loss: Scalar loss computed with this learner's current parameters.

        Returns:
            ``self``, so calls can be chained.

        Raises:
            TypeError: If ``support_loss`` is not a tensor.
            ValueError: If ``support_loss`` is not a scalar, or it does not depend on an
                adapted parameter and ``allow_unused`` is ``False``, or
                ([`MAMLpp`][meta_algos.MAMLpp]) the learner already took all steps that have learned
                rates.
        """
        check_scalar_loss(support_loss, "support_loss")
        if not support_loss.requires_grad:
            raise ValueError(
                "support_loss does not require grad: it was computed under torch.no_grad() or "
                "does not depend on the learner's parameters; compute it with gradients enabled "
                "(adapt_on and query_loss do this for you)"
            )
        self._params = inner_step(
            self._params,
            support_loss,
            self._maml.step_rates(self._steps_taken),
            first_order=self._first_order,
            adapt_names=self._maml.adapt_names,
            allow_unused=self._maml.allow_unused,
        )
        self._steps_taken += 1
        return self

    def adapt_on(
        self, loss_fn: LossFn, x: Tensor, y: Tensor, *, steps: int | None = None
    ) -> Learner:
        """Take ``steps`` inner steps on one support batch, recomputing the loss each step.

        Args:
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            x: Support inputs.
            y: Support targets.
            steps: Number of steps; ``None`` uses the wrapper's ``inner_steps``.

        Returns:
            ``self``, so calls can be chained.

        The support losses are computed with gradients enabled even inside
        ``torch.no_grad()``, so evaluation code can adapt without tracking the query pass.

        Raises:
            ValueError: If ``steps`` is negative, or for any error of
                [`adapt`][meta_algos.Learner.adapt].
        """
        steps = self._maml._resolve_steps(steps)
        with torch.enable_grad():
            for _ in range(steps):
                self.adapt(loss_fn(self(x), y))
        return self


def rate_keys(names: Iterable[str]) -> dict[str, str]:
    """Map parameter names to ``ParameterDict``-safe keys (``'.'`` becomes ``'__'``)."""
    keys = {name: name.replace(".", "__") for name in names}
    if len(set(keys.values())) != len(keys):
        clashes = sorted(name for name, key in keys.items() if list(keys.values()).count(key) > 1)
        raise ValueError(
            f"parameter names {clashes} map to the same rate key after replacing '.' by '__'; "
            f"rename the submodules so that the names stay distinct"
        )
    return keys


class _LearnedRates(MAML, ABC):
    """MAML whose inner rates are learnable parameters, one tensor per adapted parameter.

    The one implementation behind [`MetaSGD`][meta_algos.MetaSGD] (a rate per element) and
    [`MAMLpp`][meta_algos.MAMLpp] (a rate per step): ``_rate_shape(param)`` picks the shape;
    every rate starts at ``inner_lr`` and lives in the ``ParameterDict`` ``rates`` under the
    parameter's name with ``'.'`` replaced by ``'__'`` (parameter names cannot hold dots).
    """

    @abstractmethod
    def _rate_shape(self, param: Tensor) -> Sequence[int]:
        """The shape of ``param``'s learned rate."""

    def _init_learned_state(self) -> None:
        rate_shape = self._rate_shape
        params = dict(self.module.named_parameters())
        self._rate_keys = rate_keys(self.adapt_names)
        self.rates = nn.ParameterDict(
            {
                self._rate_keys[name]: nn.Parameter(
                    torch.full(
                        tuple(rate_shape(params[name])),
                        self.inner_lr,
                        dtype=params[name].dtype,
                        device=params[name].device,
                    )
                )
                for name in self.adapt_names
            }
        )

    def inner_rates(self) -> dict[str, Tensor]:
        """The learned rates by parameter name (the live ``Parameter`` objects).

        Returns:
            A new dict name -> rate tensor.
        """
        return {name: self.rates[key] for name, key in self._rate_keys.items()}

    def _learned_rates(self) -> dict[str, Tensor]:
        return self.inner_rates()


class MetaSGD(_LearnedRates):
    """MAML with a learnable inner learning rate for every element of every adapted parameter.

    Each adapted parameter ``name`` gets a rate tensor of the same shape, initialised to
    ``inner_lr`` and registered as a parameter of this module (in the ``ParameterDict``
    ``rates``, under the key ``name`` with ``'.'`` replaced by ``'__'``, because parameter
    names cannot contain dots), so the meta-optimizer trains it with the meta-parameters. The
    inner update is ``p' = p - rate * grad`` elementwise. Use `inner_rates` to get the
    rates by parameter name.

    Args:
        module: The model to meta-train.
        inner_lr: Initial value of every learned rate.
        inner_steps: Default number of inner steps (all steps share the rates).
        first_order: See [`MAML`][meta_algos.MAML].
        adapt_names: Parameters to adapt and learn rates for; ``None`` means all.
        allow_unused: See [`MAML`][meta_algos.MAML].
        compile: See [`MAML`][meta_algos.MAML].

    Raises:
        ValueError: As [`MAML`][meta_algos.MAML], or if two parameter names map to the same rate
            key.

    Examples:
        >>> metasgd = MetaSGD(torch.nn.Linear(2, 1), inner_lr=0.1)
        >>> sorted(metasgd.inner_rates())
        ['bias', 'weight']
        >>> metasgd.inner_rates()["weight"].shape
        torch.Size([1, 2])

    References:
        Li, Zhou, Chen and Li, "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning",
        2017.
    """

    def _rate_shape(self, param: Tensor) -> Sequence[int]:
        return param.shape

    def step_rates(self, step: int) -> StepRates:
        """The learned per-element rates; the same for every step.

        Args:
            step: Index of the inner step (unused: MetaSGD shares rates across steps).

        Returns:
            A mapping name -> rate tensor.
        """
        return self._rates_at(self.inner_rates(), step)

    def _rates_at(self, rates: Mapping[str, Tensor], step: int) -> StepRates:
        del step
        return dict(rates)


def head_names(module: nn.Module, head: nn.Module) -> list[str]:
    """Return the names (as seen from ``module``) of ``head``'s parameters.

    Parameters are matched by identity, so ``head`` must be a submodule of ``module`` (or at
    least share all its parameter tensors with it).

    Args:
        module: The full model.
        head: The part of it to adapt.

    Returns:
        The names in ``module``'s parameter order.

    Raises:
        TypeError: If ``module`` or ``head`` is not a module.
        ValueError: If ``head`` has no parameters or some of them are not parameters of
            ``module``.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
        >>> head_names(net, net[1])
        ['1.weight', '1.bias']
    """
    check_module(module)
    check_module(head, "head")
    head_params = list(head.parameters())
    if not head_params:
        raise ValueError(
            f"head ({type(head).__name__}) has no parameters; expected a submodule of "
            f"{type(module).__name__} that holds the parameters to adapt"
        )
    ids = {id(p) for p in head_params}
    names = [name for name, p in module.named_parameters() if id(p) in ids]
    found = {id(p) for p in module.parameters() if id(p) in ids}
    if found != ids:
        is_submodule = any(sub is head for sub in module.modules())
        reason = "is not a submodule of" if not is_submodule else "has parameters outside"
        raise ValueError(
            f"head ({type(head).__name__}) {reason} module ({type(module).__name__}): "
            f"{len(ids) - len(found)} of its {len(ids)} parameters are not parameters of "
            f"module; pass the head as it is registered inside module, e.g. net.classifier"
        )
    return names


class ANIL(MAML):
    """Almost-no-inner-loop MAML: adapt only the parameters of a ``head`` submodule.

    The body's parameters still receive meta-gradients (through the query loss) but stay
    fixed in the inner loop.

    Args:
        module: The full model to meta-train.
        head: A submodule of ``module`` (matched by identity, see
            [`head_names`][meta_algos.head_names]).
        **kwargs: Forwarded to [`MAML`][meta_algos.MAML] (``inner_lr``, ``inner_steps``,
            ``first_order``, ``allow_unused``, ``compile``); ``adapt_names`` is set from
            ``head`` and may not be given.

    Raises:
        TypeError: If ``adapt_names`` is passed.
        ValueError: As [`head_names`][meta_algos.head_names].

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
        >>> ANIL(net, net[1], inner_lr=0.1).adapt_names
        ('1.weight', '1.bias')

    References:
        Raghu, Raghu, Bengio and Vinyals, "Rapid Learning or Feature Reuse? Towards
        Understanding the Effectiveness of MAML", ICLR 2020.
    """

    def __init__(self, module: nn.Module, head: nn.Module, **kwargs: Any) -> None:
        if "adapt_names" in kwargs:
            raise TypeError(
                "ANIL sets adapt_names from head; got adapt_names="
                f"{kwargs['adapt_names']!r} as well - pass only head, or use MAML(adapt_names=...)"
            )
        super().__init__(module, adapt_names=head_names(module, head), **kwargs)
