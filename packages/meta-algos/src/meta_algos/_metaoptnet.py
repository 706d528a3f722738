"""MetaOptNet behind the algorithm protocol: no inner loop, a differentiable SVM adapts."""

from __future__ import annotations

from meta_nn import SVClassifier
from torch import Tensor, nn

from ._protonet import ProtoNet


class MetaOptNet(ProtoNet):
    """MetaOptNet: classify queries with a multi-class SVM fitted to the embedded support set.

    The episode is [`ProtoNet`][meta_algos.ProtoNet]'s (the embedding maps support and query
    inputs, the meta-objective is ``loss_fn(logits, query_y)`` differentiated with respect to
    the embedding's parameters, tasks go one by one or, with ``batched=True``, through one
    ``vmap`` pass of the embedding), with the head swapped: an
    [`SVClassifier`][meta_nn.SVClassifier] solves the SVM's dual quadratic program on the
    support embeddings and its logits are differentiated through the program's optimality
    conditions. Fitting the SVM is the adaptation; there is no inner loop.

    Labels must be ``0 .. classes - 1`` with every class in the support set. Needs qpth
    (``pip install "meta-nn[svm]"``).

    Args:
        embedding: The network that maps inputs to feature vectors ``(n, d)``, e.g. the
            ``features`` of a [`ConvNet4`][meta_nn.ConvNet4].
        C_reg: The SVM's regularisation weight (learn2learn's default).
        max_iters: The QP solver's iteration limit (learn2learn's default).
        normalize: L2-normalise embeddings before the SVM.

    Attributes:
        C_reg: As given.
        max_iters: As given.
        normalize: As given.

    Raises:
        ImportError: If qpth is not installed.
        TypeError: If ``embedding`` is not a module or ``max_iters`` not an int.
        ValueError: If ``C_reg`` or ``max_iters`` is not positive.

    Examples:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from types import SimpleNamespace
        >>> metaoptnet = MetaOptNet(torch.nn.Linear(3, 4))
        >>> x, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
        >>> metaoptnet(x, y, torch.randn(5, 3)).shape
        torch.Size([5, 3])
        >>> task = SimpleNamespace(support_x=x, support_y=y, query_x=x, query_y=y)
        >>> metaoptnet.meta_gradient([task, task], F.cross_entropy).losses.shape
        torch.Size([2])
        >>> metaoptnet.embedding.weight.grad is not None
        True

    References:
        Lee, Maji, Ravichandran and Soatto, "Meta-Learning with Differentiable Convex
        Optimization", CVPR 2019.
    """

    def __init__(
        self,
        embedding: nn.Module,
        C_reg: float = 0.1,  # noqa: N803 - SVClassifier's (learn2learn's) name
        max_iters: int = 15,
        normalize: bool = False,
    ) -> None:
        super().__init__(embedding)
        head = SVClassifier(C_reg=C_reg, max_iters=max_iters, normalize=normalize)  # validates
        self.C_reg = head.C_reg
        self.max_iters = head.max_iters
        self.normalize = head.normalize_inputs

    def _logits(self, support: Tensor, support_y: Tensor, queries: Tensor) -> Tensor:
        """The SVM logits from already embedded support and query sets."""
        # a head per task, as ProtoNet's, so no task's graph outlives its step
        head = SVClassifier(
            support,
            support_y,
            C_reg=self.C_reg,
            max_iters=self.max_iters,
            normalize=self.normalize,
        )
        logits: Tensor = head(queries)
        return logits
