"""Reptile behind the algorithm protocol: its outer update expressed as a gradient."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from meta_functional import GradMode, adapt_trajectory
from meta_functional.checks import check_finite_rate, check_scalar_loss
from torch import Tensor, nn

from ._batching import map_over_tasks, stack_tasks, task_by_task
from ._maml import MAML
from ._protocol import MetaGradient, TaskData, same_layout, task_list
from ._typing import LossFn


class Reptile(MAML):
    """Reptile: move the initialisation towards the parameters adapted to each task.

    Per task, ``inner_steps`` plain SGD steps on the support loss (first order: the one
    inner update rule of meta-functional, never differentiated) take ``theta`` to ``phi``.
    The Reptile update ``theta + eps * (mean(phi) - theta)`` is left on ``.grad`` as the
    pseudo-gradient ``outer_step * (theta - mean(phi))``, so any torch optimizer steps it:
    ``torch.optim.SGD(lr=eps)`` with ``outer_step=1`` makes exactly the Reptile update, and
    Adam makes the "Reptile with Adam" variant of the paper. The losses reported are the
    query losses after adaptation.

    A [`MAML`][meta_algos.MAML] with ``first_order=True`` in everything but
    [`meta_gradient`][meta_algos.Reptile.meta_gradient]: [`clone`][meta_algos.MAML.clone],
    [`adapted_predictions`][meta_algos.MAML.adapted_predictions] and the query losses adapt
    as Reptile does (the gradient of [`query_loss`][meta_algos.MAML.query_loss] is
    first-order MAML's, not Reptile's).

    Args:
        module: The model to meta-train.
        inner_lr: Step size of the inner SGD steps.
        inner_steps: Inner steps per task (``>= 0``; with ``0`` the update is zero).
        outer_step: Scale of the pseudo-gradient (``eps`` when the optimizer's rate is 1).
        adapt_names: Parameters to adapt in the inner loop (``None``: all); the others get
            a zero pseudo-gradient.
        allow_unused: See [`MAML`][meta_algos.MAML].

    Raises:
        TypeError: As [`MAML`][meta_algos.MAML], or if ``outer_step`` is not a number.
        ValueError: As [`MAML`][meta_algos.MAML], or if ``outer_step`` is negative or not
            finite.

    Examples:
        >>> import torch.nn.functional as F
        >>> from types import SimpleNamespace
        >>> reptile = Reptile(torch.nn.Linear(1, 1), inner_lr=0.1, inner_steps=3)
        >>> x, y = torch.randn(4, 1), torch.randn(4, 1)
        >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
        >>> reptile.meta_gradient([task, task], F.mse_loss).losses.shape
        torch.Size([2])
        >>> torch.optim.SGD(reptile.parameters(), lr=0.5).step()  # theta += 0.5 (phi - theta)

    References:
        Nichol, Achiam and Schulman, "On First-Order Meta-Learning Algorithms", 2018.
    """

    def __init__(
        self,
        module: nn.Module,
        inner_lr: float = 0.01,
        inner_steps: int = 5,
        outer_step: float = 1.0,
        *,
        adapt_names: Iterable[str] | None = None,
        allow_unused: bool = True,
    ) -> None:
        super().__init__(
            module,
            inner_lr,
            inner_steps,
            first_order=True,
            adapt_names=adapt_names,
            allow_unused=allow_unused,
        )
        self.outer_step = check_finite_rate(outer_step, "outer_step")

    def _adapted(
        self,
        loss_fn: LossFn,
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
        *,
        grad_mode: GradMode,
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One task's adapted parameters ``phi`` (detached), query loss and prediction.

        A pure function of the parameters and the task's tensors, so the batched path is
        this function under ``torch.func.vmap`` (with ``grad_mode="func"``).
        """

        def support_loss(params: dict[str, Tensor]) -> Tensor:
            return check_scalar_loss(
                loss_fn(self._forward(params, support_x, grad_mode), support_y),
                "the support loss",
            )

        start: dict[str, Tensor] = dict(self.module.named_parameters())
        trajectory = adapt_trajectory(
            start,
            support_loss,
            lr=self.inner_lr,
            inner_steps=self.inner_steps,
            first_order=True,
            adapt_names=self.adapt_names,
            allow_unused=self.allow_unused,
            grad_mode=grad_mode,
        )
        phi = {name: p.detach() for name, p in (trajectory[-1] if trajectory else start).items()}
        with torch.no_grad():
            prediction = self._forward(phi, query_x, grad_mode)
            loss = check_scalar_loss(loss_fn(prediction, query_y), "the query loss")
        return phi, loss.reshape(()), prediction

    def _add_pseudo_gradient(self, phi: Mapping[str, Tensor], weight: float) -> None:
        """Add ``weight * outer_step * (theta - phi)`` to every meta-parameter's ``.grad``."""
        for name, theta in self.module.named_parameters():
            if not theta.requires_grad:
                continue
            step = (theta.detach() - phi[name]) * (weight * self.outer_step)
            if theta.grad is None:
                theta.grad = step
            else:
                theta.grad.add_(step)

    def meta_gradient(
        self, tasks: Sequence[TaskData], loss_fn: LossFn, *, batched: bool = False
    ) -> MetaGradient:
        """Add the Reptile pseudo-gradient ``outer_step * (theta - mean(phi))`` to ``.grad``.

        The [`MetaAlgorithm`][meta_algos.MetaAlgorithm] step a training loop calls; the
        optimizer step that follows makes the outer update. With ``batched=True`` and tasks
        whose tensors all share shapes, dtypes and devices, every task is adapted in one
        ``torch.func.vmap`` pass; otherwise task by task. Both give the same gradient.

        Args:
            tasks: The tasks of this meta-update (objects with ``support_x``, ``support_y``,
                ``query_x`` and ``query_y``, e.g. ``meta_tasks.Task``).
            loss_fn: ``loss_fn(prediction, target) -> scalar tensor``.
            batched: Adapt all tasks in one ``vmap`` pass when they stack.

        Returns:
            The per-task query losses after adaptation and the query predictions, detached.

        Raises:
            TypeError: If ``tasks`` is not a sequence of tasks.
            ValueError: If ``tasks`` is empty, a loss is not a scalar, or (batched) the module
                holds BatchNorm layers that would update running statistics.
        """
        checked = task_list(tasks, "meta_gradient")
        if batched and same_layout(checked):

            def one_task(
                sx: Tensor, sy: Tensor, qx: Tensor, qy: Tensor
            ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
                return self._adapted(loss_fn, sx, sy, qx, qy, grad_mode="func")

            phis, losses, predictions = map_over_tasks(self.module, one_task, *stack_tasks(checked))
            self._add_pseudo_gradient({name: phi.mean(0) for name, phi in phis.items()}, 1.0)
            return MetaGradient(losses, list(predictions.unbind(0)))

        def step(task: TaskData, weight: float) -> tuple[Tensor, Tensor]:
            phi, loss, prediction = self._adapted(
                loss_fn,
                task.support_x,
                task.support_y,
                task.query_x,
                task.query_y,
                grad_mode="autograd",
            )
            self._add_pseudo_gradient(phi, weight)
            return loss, prediction

        return task_by_task(checked, step)
