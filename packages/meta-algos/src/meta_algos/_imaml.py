"""iMAML: meta-gradients by implicit differentiation of a proximally regularised inner loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from meta_functional import GradMode, adapt_trajectory, conjugate_gradient
from meta_functional.checks import (
    check_finite_rate,
    check_module,
    check_non_negative_int,
    check_scalar_loss,
)
from torch import Tensor, nn
from torch.func import grad, grad_and_value, vjp

from ._batching import TASK_FIELDS, map_over_tasks, stack_tasks, task_by_task
from ._maml import MAML
from ._protocol import MetaGradient, TaskData, same_layout, task_list
from ._typing import LossFn

#: A closure ``params -> (scalar loss, prediction)`` over one split (support or query) of a task.
_SplitLoss = Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]
#: ``v -> H v`` for the Hessian ``H`` of a task's support loss at the adapted parameters.
_HessianProduct = Callable[[dict[str, Tensor]], dict[str, Tensor]]


def _leaves(params: dict[str, Tensor]) -> dict[str, Tensor]:
    """Fresh detached leaves that require grad, one per name (autograd differentiates them)."""
    return {name: value.detach().requires_grad_() for name, value in params.items()}


def _dense(leaves: dict[str, Tensor], found: Sequence[Tensor | None]) -> dict[str, Tensor]:
    """Gradients by name, with zeros where a leaf was unused (``None``)."""
    return {
        name: torch.zeros_like(leaf) if value is None else value
        for (name, leaf), value in zip(leaves.items(), found, strict=True)
    }


def _query_gradient(
    query: _SplitLoss, params: dict[str, Tensor], grad_mode: GradMode
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """The query loss's gradient at ``params``, the loss and the prediction (all detached)."""
    if grad_mode == "func":
        grads, (loss, prediction) = grad_and_value(query, has_aux=True)(params)
        return dict(grads), loss, prediction
    with torch.enable_grad():
        leaves = _leaves(params)
        loss, prediction = query(leaves)
        found = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
    return _dense(leaves, found), loss.detach(), prediction.detach()


def _hessian_product(
    loss_of: Callable[[dict[str, Tensor]], Tensor], params: dict[str, Tensor], grad_mode: GradMode
) -> _HessianProduct:
    """``v -> H v`` with ``H`` the Hessian of ``loss_of`` at ``params``, linearised once.

    ``"func"`` takes the vector-Jacobian product of ``torch.func.grad`` (``H`` is symmetric,
    so ``v^T H = (H v)^T``); ``"autograd"`` differentiates the first gradient again.
    """
    if grad_mode == "func":
        pullback = vjp(grad(loss_of), params)[1]
        return lambda vector: dict(pullback(vector)[0])
    with torch.enable_grad():
        leaves = _leaves(params)
        first = torch.autograd.grad(
            loss_of(leaves), list(leaves.values()), create_graph=True, allow_unused=True
        )
    # a gradient that does not depend on the parameters (a linear loss) has a zero Hessian
    linked = [
        (name, g)
        for name, g in zip(leaves, first, strict=True)
        if g is not None and g.requires_grad
    ]

    def product(vector: dict[str, Tensor]) -> dict[str, Tensor]:
        if not linked:
            return {name: torch.zeros_like(leaf) for name, leaf in leaves.items()}
        found = torch.autograd.grad(
            [g for _, g in linked],
            list(leaves.values()),
            grad_outputs=[vector[name] for name, _ in linked],
            retain_graph=True,
            allow_unused=True,
        )
        return _dense(leaves, found)

    return product


class IMAML(MAML):
    """Implicit MAML: the meta-gradient of a proximally regularised inner loop, solved by CG.

    For each task the inner loop approximately minimises the support loss plus a proximal
    term, ``L_support(phi) + lam / 2 * ||phi - theta||^2``, by ``inner_steps`` gradient steps
    from ``phi = theta`` (the step rule of
    [`adapt_trajectory`][meta_functional.adapt_trajectory], with no graph kept through the
    loop). At the optimum ``phi*`` the implicit function theorem gives the meta-gradient
    ``d L_query(phi*) / d theta = (I + H / lam)^{-1} grad L_query(phi*)``, ``H`` the Hessian
    of the support loss at ``phi*``; it is solved by ``cg_steps`` iterations of
    [`conjugate_gradient`][meta_functional.conjugate_gradient] with Hessian-vector products
    at ``phi`` only. Memory does not grow with ``inner_steps``. The meta-gradient is exact
    when the inner loop converges and CG runs as many steps as ``H`` has distinct
    eigenvalues; fewer steps give the usual truncated-CG approximation.

    The wrapped module is the submodule ``module``; its parameters that require grad are
    the meta-parameters ``theta`` (hand ``imaml.parameters()`` to the meta-optimizer) and
    are all adapted (``adapt_names``). A [`MAML`][meta_algos.MAML] with ``first_order=True``
    in everything but [`meta_gradient`][meta_algos.IMAML.meta_gradient] and
    [`adapted_predictions`][meta_algos.IMAML.adapted_predictions]:
    [`clone`][meta_algos.MAML.clone], [`query_loss`][meta_algos.MAML.query_loss] and
    [`batched_query_loss`][meta_algos.MAML.batched_query_loss] adapt without the proximal
    term and give first-order MAML's gradient, not iMAML's.

    [`meta_gradient`][meta_algos.IMAML.meta_gradient] solves task by task (autograd; a
    BatchNorm with running statistics updates them, as in a forward pass), or with
    ``batched=True`` all tasks in one ``torch.func.vmap`` pass: the same computation with
    ``torch.func`` transforms (inner loop, ``vjp`` of ``grad`` for the Hessian products, CG
    with a fixed number of iterations), as [`MAML`][meta_algos.MAML]'s batched path does:
    tasks that do not stack go through the loop, and a BatchNorm layer in training mode with
    ``track_running_stats=True`` is an error there.

    Args:
        module: The model to meta-train.
        inner_lr: Inner-loop step size.
        inner_steps: Default number of inner gradient steps (``>= 0``); iMAML wants the
            inner loop near convergence, so typically more than MAML's.
        lam: The proximal strength ``lambda > 0``: large keeps ``phi`` near ``theta``
            (and ``(I + H / lam)`` well conditioned), small lets the task pull it away.
        cg_steps: Conjugate-gradient iterations per task (``>= 1``).
        cg_damping: Non-negative shift added to ``I + H / lam`` in the solve, to keep it
            positive definite when the support loss is not convex at ``phi``; ``0`` is exact.

    Raises:
        TypeError: If ``module`` is not a module or a rate is not a number.
        ValueError: If ``inner_lr`` or ``cg_damping`` is negative or not finite, ``lam`` is
            not a positive finite number, ``inner_steps`` is negative, ``cg_steps < 1``, or
            ``module`` has no parameter that requires grad.

    Examples:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from types import SimpleNamespace
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        >>> imaml = IMAML(net, inner_lr=0.1, inner_steps=5, lam=2.0, cg_steps=3)
        >>> x, y = torch.randn(5, 1), torch.randn(5, 1)
        >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
        >>> imaml.meta_gradient([task, task], F.mse_loss).losses.shape
        torch.Size([2])
        >>> all(p.grad is not None for p in imaml.parameters())
        True

    References:
        Rajeswaran, Finn, Kakade and Levine, "Meta-Learning with Implicit Gradients",
        NeurIPS 2019.
    """

    def __init__(
        self,
        module: nn.Module,
        inner_lr: float = 0.01,
        inner_steps: int = 10,
        lam: float = 1.0,
        *,
        cg_steps: int = 5,
        cg_damping: float = 0.0,
    ) -> None:
        trainable = [name for name, p in check_module(module).named_parameters() if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"{type(module).__name__} has no parameter that requires grad: there is "
                f"nothing to meta-learn"
            )
        super().__init__(module, inner_lr, inner_steps, first_order=True, adapt_names=trainable)
        self.lam = check_finite_rate(lam, "lam")
        if self.lam == 0:
            raise ValueError(
                "lam must be > 0 (the proximal strength that ties the adapted parameters to "
                "the meta-parameters), got 0"
            )
        self.cg_steps = check_non_negative_int(cg_steps, "cg_steps", minimum=1)
        self.cg_damping = check_finite_rate(cg_damping, "cg_damping")

    def _meta_parameters(self) -> dict[str, Tensor]:
        params = dict(self.module.named_parameters())
        return {name: params[name] for name in self.adapt_names}

    def _split_loss(
        self, loss_fn: LossFn, x: Tensor, y: Tensor, what: str, mode: GradMode
    ) -> _SplitLoss:
        """``params -> (loss, prediction)`` on one split of a task (``what`` names it)."""

        def loss_of(params: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
            prediction = self._forward(params, x, mode)
            return check_scalar_loss(loss_fn(prediction, y), what).reshape(()), prediction

        return loss_of

    def _adapt(self, support: _SplitLoss, steps: int, mode: GradMode) -> dict[str, Tensor]:
        """The inner loop: ``steps`` descent steps on the proximally regularised support loss."""
        start = self._meta_parameters()  # no graph reaches them: the result is detached
        theta = {name: value.detach() for name, value in start.items()}
        lam = self.lam

        def regularised(params: dict[str, Tensor]) -> Tensor:
            proximal = torch.stack([(params[n] - theta[n]).pow(2).sum() for n in theta]).sum()
            return support(params)[0] + 0.5 * lam * proximal

        trajectory = adapt_trajectory(
            start,
            regularised,
            lr=self.inner_lr,
            inner_steps=steps,
            first_order=True,
            grad_mode=mode,
        )
        return {name: value.detach() for name, value in (trajectory or [theta])[-1].items()}

    def _task_solution(
        self, loss_fn: LossFn, task: Sequence[Tensor], *, mode: GradMode
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One task's implicit meta-gradient, query loss and query prediction (detached).

        A pure function of the module's parameters and the task's tensors (``support_x``,
        ``support_y``, ``query_x``, ``query_y``): the batched path is this function under
        ``torch.func.vmap`` with ``mode="func"``.
        """
        support_x, support_y, query_x, query_y = task
        support = self._split_loss(loss_fn, support_x, support_y, "the support loss", mode)
        query = self._split_loss(loss_fn, query_x, query_y, "the query loss", mode)
        adapted = self._adapt(support, self.inner_steps, mode)
        gradient, loss, prediction = _query_gradient(query, adapted, mode)
        hessian = _hessian_product(lambda params: support(params)[0], adapted, mode)
        lam = self.lam

        def regularised_hessian(vector: dict[str, Tensor]) -> dict[str, Tensor]:
            curvature = hessian(vector)
            return {name: vector[name] + curvature[name] / lam for name in vector}

        solved = conjugate_gradient(
            regularised_hessian, gradient, max_iter=self.cg_steps, damping=self.cg_damping
        )
        return {name: value.detach() for name, value in solved.items()}, loss, prediction

    def meta_gradient(
        self, tasks: Sequence[TaskData], loss_fn: LossFn, *, batched: bool = False
    ) -> MetaGradient:
        """Accumulate the mean implicit meta-gradient over ``tasks`` into ``.grad``.

        The [`MetaAlgorithm`][meta_algos.MetaAlgorithm] step a training loop calls. Each
        task's meta-gradient is ``(I + H / lam)^{-1}`` times its query-loss gradient at the
        adapted parameters; their mean over tasks is added to the ``.grad`` of the
        meta-parameters (existing values are added to, not replaced).

        Args:
            tasks: The tasks of this meta-update (objects with ``support_x``, ``support_y``,
                ``query_x`` and ``query_y``, e.g. ``meta_tasks.Task``).
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            batched: Solve all tasks in one ``vmap`` pass when they stack; otherwise task
                by task (same result).

        Returns:
            Every task's query loss after adaptation and its query predictions, detached.

        Raises:
            TypeError: If ``tasks`` is not a sequence of tasks.
            ValueError: If ``tasks`` is empty, a loss is not a scalar, or (batched) the
                module holds BatchNorm layers that would update running statistics.

        Examples:
            >>> import torch.nn.functional as F
            >>> from types import SimpleNamespace
            >>> imaml = IMAML(torch.nn.Linear(1, 1), inner_lr=0.1, inner_steps=20, lam=0.5)
            >>> xs = torch.linspace(-1, 1, 6).unsqueeze(1)
            >>> task = SimpleNamespace(support_x=xs, support_y=2 * xs, query_x=xs, query_y=2 * xs)
            >>> result = imaml.meta_gradient([task] * 3, F.mse_loss, batched=True)
            >>> result.losses.shape, imaml.module.weight.grad.shape
            (torch.Size([3]), torch.Size([1, 1]))
        """
        checked = task_list(tasks, "meta_gradient")
        if batched and same_layout(checked):

            def one_task(*fields: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
                return self._task_solution(loss_fn, fields, mode="func")

            gradients, losses, predictions = map_over_tasks(
                self.module, one_task, *stack_tasks(checked)
            )
            self._accumulate({name: gradient.mean(0) for name, gradient in gradients.items()})
            return MetaGradient(losses, list(predictions.unbind(0)))

        def step(task: TaskData, weight: float) -> tuple[Tensor, Tensor]:
            fields = [getattr(task, field) for field in TASK_FIELDS]
            gradient, loss, prediction = self._task_solution(loss_fn, fields, mode="autograd")
            self._accumulate({name: weight * value for name, value in gradient.items()})
            return loss, prediction

        return task_by_task(checked, step)

    def _accumulate(self, gradient: dict[str, Tensor]) -> None:
        """Add ``gradient`` to the meta-parameters' ``.grad`` (through autograd, so hooks run)."""
        params = self._meta_parameters()
        torch.autograd.backward(
            [params[name] for name in self.adapt_names],
            [gradient[name] for name in self.adapt_names],
        )

    def adapted_predictions(
        self, task: TaskData, loss_fn: LossFn, *, steps: int | None = None
    ) -> Tensor:
        """Adapt on ``task``'s support set with the proximal inner loop; return query predictions.

        As [`MAML.adapted_predictions`][meta_algos.MAML.adapted_predictions] (the same
        arguments, errors, and detached result that leaves ``.grad`` alone), with the
        support loss regularised by ``lam / 2 * ||phi - theta||^2`` as in
        [`meta_gradient`][meta_algos.IMAML.meta_gradient].

        Examples:
            >>> import torch.nn.functional as F
            >>> from types import SimpleNamespace
            >>> imaml = IMAML(torch.nn.Linear(1, 1), inner_lr=0.1, lam=1.0)
            >>> xs = torch.linspace(-1, 1, 5).unsqueeze(1)
            >>> task = SimpleNamespace(support_x=xs, support_y=3 * xs, query_x=xs, query_y=3 * xs)
            >>> def query_loss(steps):
            ...     prediction = imaml.adapted_predictions(task, F.mse_loss, steps=steps)
            ...     return F.mse_loss(prediction, task.query_y)
            >>> bool(query_loss(50) < query_loss(0))
            True
        """
        count = self._resolve_steps(steps)
        support = self._split_loss(
            loss_fn, task.support_x, task.support_y, "the support loss", "autograd"
        )
        adapted = self._adapt(support, count, "autograd")
        with torch.no_grad():
            prediction: Tensor = self._forward(adapted, task.query_x, "autograd")
        return prediction.detach()
