"""Prototypical Networks behind the algorithm protocol: no inner loop, prototypes adapt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from meta_functional.checks import check_module, check_non_negative_int, check_scalar_loss
from meta_nn import PrototypicalClassifier
from torch import Tensor, nn

from ._batching import map_over_tasks, stack_tasks, task_by_task
from ._batchnorm import PrimitiveBatchNormMode
from ._protocol import MetaGradient, TaskData, same_layout, task_list
from ._typing import LossFn

#: The distances [`ProtoNet`][meta_algos.ProtoNet] measures between prototypes and queries.
ProtoDistance = Literal["euclidean", "cosine"]
_DISTANCES = ("euclidean", "cosine")


class ProtoNet(nn.Module):
    """Prototypical Networks: classify queries by their distance to the support's class means.

    Per task, the ``embedding`` maps support and query inputs (each in its own forward pass,
    so BatchNorm without running statistics normalises each with its own statistics); a
    [`PrototypicalClassifier`][meta_nn.PrototypicalClassifier] takes the mean support
    embedding of every class as its prototype and returns the query logits
    ``-distance(prototype, query)``. There is no inner loop: fitting the prototypes is the
    adaptation. The meta-objective is ``loss_fn(logits, query_y)`` (the query cross-entropy
    with ``F.cross_entropy``), differentiated with respect to the embedding's parameters.

    Labels must be ``0 .. classes - 1`` with every class in the support set, so column ``c``
    of the logits is label ``c`` (as for a ``classes``-way head).

    Args:
        embedding: The network that maps inputs to feature vectors ``(n, d)``, e.g. the
            ``features`` of a [`ConvNet4`][meta_nn.ConvNet4] (the conv blocks without the
            linear head).
        distance: ``"euclidean"`` (squared Euclidean, as in the paper) or ``"cosine"``
            (negative dot product of L2-normalised embeddings).

    Raises:
        TypeError: If ``embedding`` is not a module.
        ValueError: If ``distance`` is not ``"euclidean"`` or ``"cosine"``.

    Examples:
        >>> import torch.nn.functional as F
        >>> from types import SimpleNamespace
        >>> protonet = ProtoNet(torch.nn.Linear(3, 4))
        >>> x, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
        >>> protonet(x, y, torch.randn(5, 3)).shape
        torch.Size([5, 3])
        >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
        >>> protonet.meta_gradient([task, task], F.cross_entropy).losses.shape
        torch.Size([2])
        >>> protonet.embedding.weight.grad is not None
        True

    References:
        Snell, Swersky and Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017.
    """

    meta_iteration_count: Tensor

    def __init__(self, embedding: nn.Module, distance: ProtoDistance = "euclidean") -> None:
        super().__init__()
        self.embedding = check_module(embedding, "embedding")
        if distance not in _DISTANCES:
            raise ValueError(
                f"ProtoNet: distance must be 'euclidean' or 'cosine', got {distance!r}"
            )
        self.distance: ProtoDistance = distance
        self.register_buffer("meta_iteration_count", torch.zeros((), dtype=torch.long))

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        """Return the query logits of one task: ``-distance(prototypes, embedded queries)``.

        Args:
            support_x: Support inputs ``(n_support, ...)``.
            support_y: Their labels ``(n_support,)``, ``0 .. classes - 1``.
            query_x: Query inputs ``(n_query, ...)``.

        Returns:
            Logits ``(n_query, classes)``, differentiable with respect to the embedding.

        Raises:
            ValueError: If the support labels are not ``0 .. classes - 1``.
        """
        return self._logits(self.embedding(support_x), support_y, self.embedding(query_x))

    def _logits(self, support: Tensor, support_y: Tensor, queries: Tensor) -> Tensor:
        """The prototype logits from already embedded support and query sets."""
        classifier = PrototypicalClassifier(support, support_y, distance=self.distance)
        classes = classifier.classes
        assert classes is not None  # fitted by the constructor
        expected = torch.arange(classes.numel(), device=classes.device, dtype=classes.dtype)
        if not torch.equal(classes, expected):
            raise ValueError(
                f"ProtoNet expects support labels 0 .. classes - 1, each at least once, got "
                f"labels {classes.tolist()}; relabel the task's classes 0, 1, ..."
            )
        logits: Tensor = classifier(queries)
        return logits

    def _objective(
        self, loss_fn: LossFn, support: Tensor, support_y: Tensor, queries: Tensor, query_y: Tensor
    ) -> tuple[Tensor, Tensor]:
        """One task's query loss and logits from its embedded support and query sets."""
        logits = self._logits(support, support_y, queries)
        loss = check_scalar_loss(loss_fn(logits, query_y), "the query loss")
        return loss.reshape(()), logits

    def meta_gradient(
        self, tasks: Sequence[TaskData], loss_fn: LossFn, *, batched: bool = False
    ) -> MetaGradient:
        """Accumulate into ``.grad`` the gradient of the mean query loss over ``tasks``.

        The [`MetaAlgorithm`][meta_algos.MetaAlgorithm] step a training loop calls
        (existing ``.grad`` values are added to). With ``batched=True`` and tasks whose
        tensors all share shapes, dtypes and devices, the embedding runs over all tasks in
        one ``torch.func.vmap`` pass (one for the support sets, one for the query sets) and
        the prototypes are fitted per task; otherwise task by task, back-propagating each
        before the next. Both give the same gradient.

        Args:
            tasks: The tasks of this meta-update (objects with ``support_x``, ``support_y``,
                ``query_x`` and ``query_y``, e.g. ``meta_tasks.Task``).
            loss_fn: ``loss_fn(logits, query_y) -> scalar tensor``, e.g. ``F.cross_entropy``.
            batched: Embed all tasks in one ``vmap`` pass when they stack.

        Returns:
            The per-task query losses and query logits, detached.

        Raises:
            TypeError: If ``tasks`` is not a sequence of tasks.
            ValueError: If ``tasks`` is empty, a support set's labels are not
                ``0 .. classes - 1``, or a loss is not a scalar.
        """
        checked = task_list(tasks, "meta_gradient")
        if batched and same_layout(checked):
            support_x, support_y, query_x, query_y = stack_tasks(checked)

            def embed(support: Tensor, queries: Tensor) -> tuple[Tensor, Tensor]:
                with PrimitiveBatchNormMode():  # each task normalised with its own statistics
                    return self.embedding(support), self.embedding(queries)

            supports, queries = map_over_tasks(self.embedding, embed, support_x, query_x)
            losses, logits = zip(
                *(
                    self._objective(loss_fn, *task)
                    for task in zip(supports, support_y, queries, query_y, strict=True)
                ),
                strict=True,
            )
            stacked = torch.stack(losses)
            torch.autograd.backward(stacked.mean())
            return MetaGradient(stacked.detach(), [each.detach() for each in logits])

        def step(task: TaskData, weight: float) -> tuple[Tensor, Tensor]:
            loss, logits = self._objective(
                loss_fn,
                self.embedding(task.support_x),
                task.support_y,
                self.embedding(task.query_x),
                task.query_y,
            )
            torch.autograd.backward(loss * weight)
            return loss, logits

        return task_by_task(checked, step)

    def adapted_predictions(
        self, task: TaskData, loss_fn: LossFn, *, steps: int | None = None
    ) -> Tensor:
        """Return the query logits of ``task`` after fitting its prototypes, detached.

        ProtoNet has no inner loop: the prototypes of the support set are its adaptation.
        ``steps=0`` asks for the prediction before adaptation, when nothing is known of the
        task's classes: zero logits (a uniform prediction over the support's classes). Any
        other ``steps`` gives the prototype logits.

        Args:
            task: One task (``support_x``, ``support_y``, ``query_x``, ``query_y``).
            loss_fn: Unused (there is no support loss to descend); part of the protocol.
            steps: ``0`` for the unadapted prediction; ``None`` or a positive int otherwise.

        Returns:
            Logits ``(n_query, classes)``.

        Raises:
            ValueError: If ``steps`` is negative or the support labels are not
                ``0 .. classes - 1``.

        Examples:
            >>> import torch.nn.functional as F
            >>> from types import SimpleNamespace
            >>> protonet = ProtoNet(torch.nn.Linear(3, 4))
            >>> x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
            >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
            >>> protonet.adapted_predictions(task, F.cross_entropy, steps=0)
            tensor([[0., 0.],
                    [0., 0.],
                    [0., 0.],
                    [0., 0.]])
        """
        del loss_fn
        if steps is not None:
            check_non_negative_int(steps, "steps")
        with torch.no_grad():
            logits: Tensor = self(task.support_x, task.support_y, task.query_x)
        return torch.zeros_like(logits) if steps == 0 else logits

    def advance_iteration(self) -> int:
        """Count one meta-update (saved in ``state_dict``); return the new count.

        Returns:
            The number of meta-updates so far.
        """
        self.meta_iteration_count.add_(1)
        return int(self.meta_iteration_count.item())
