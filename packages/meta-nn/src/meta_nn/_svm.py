"""MetaOptNet's differentiable multi-class SVM head (learn2learn's ``SVClassifier``).

The head needs ``qpth`` (``pip install "meta-nn[svm]"``), imported when a classifier is built,
so importing meta-nn stays cheap and works without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._layers import check_positive_int, check_tensor
from ._prototypical import EPSILON, check_queries, unit_rows

QPSolver = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


def qp_solver(max_iters: int) -> QPSolver:
    """Return qpth's differentiable interior-point QP solver, run for ``max_iters`` steps.

    Args:
        max_iters: The solver's iteration limit.

    Returns:
        ``solve(Q, p, G, h, A, b)``: ``argmin_z 0.5 z'Qz + p'z`` subject to ``Gz <= h`` and
        ``Az = b``, differentiable with respect to every argument.

    Raises:
        ImportError: If ``qpth`` is not installed (the ``svm`` extra of meta-nn).
    """
    try:
        qp = importlib.import_module("qpth.qp")
    except ImportError as error:
        raise ImportError(
            "SVClassifier solves its quadratic program with qpth, which is not installed: "
            'pip install "meta-nn[svm]"'
        ) from error
    solve: QPSolver = qp.QPFunction(verbose=False, maxIter=max_iters)
    return solve


def svm_dual(support: Tensor, labels: Tensor, ways: int, c_reg: float, max_iters: int) -> Tensor:
    """Solve the dual of MetaOptNet's multi-class (Crammer-Singer) SVM on ``support``.

    With the linear kernel ``K = support support'`` and one row ``alpha_i`` of ``ways`` dual
    variables per support example, minimise
    ``0.5 sum_ij K_ij <alpha_i, alpha_j> + 0.5 |alpha|^2 - sum_i alpha_i[labels_i]`` subject to
    ``alpha_i <= c_reg * onehot(labels_i)`` and ``sum_m alpha_i[m] = 0`` (Lee et al. 2019, with
    learn2learn's identity added to the kernel block).

    Args:
        support: Support embeddings ``(n, d)``.
        labels: Their labels ``(n,)``, integers in ``0 .. ways - 1``.
        ways: The number of classes.
        c_reg: The SVM's regularisation weight ``C``.
        max_iters: The QP solver's iteration limit.

    Returns:
        The dual solution ``alpha`` of shape ``(n, ways)``, differentiable with respect to
        ``support``.
    """
    count = support.shape[0]

    def eye(size: int) -> Tensor:
        return torch.eye(size, dtype=support.dtype, device=support.device)

    onehot = F.one_hot(labels.long(), ways).to(support).reshape(1, -1)
    quadratic = torch.kron(support @ support.mT, eye(ways)) + eye(count * ways)
    rows_sum_to_zero = torch.kron(eye(count), support.new_ones(1, ways))
    solution = qp_solver(max_iters)(
        quadratic,
        -onehot,
        eye(count * ways),
        c_reg * onehot,
        rows_sum_to_zero,
        support.new_zeros(1, count),
    )
    return solution.reshape(count, ways)


class SVClassifier(nn.Module):
    """MetaOptNet's differentiable SVM head: a multi-class SVM fitted to the support set.

    ``fit_(support, labels)`` solves the dual quadratic program of a Crammer-Singer SVM with a
    linear kernel with qpth's differentiable solver; calling the
    classifier on query embeddings ``x`` returns the logits
    ``x support' alpha`` of shape ``(queries, ways)``. The logits are differentiable with
    respect to the support and query embeddings (through the QP's optimality conditions), so
    the query loss trains the embedding network. With ``normalize``, support and query
    embeddings are divided by their L2 norm (plus 1e-8). Arguments, order and defaults are
    learn2learn's ``learn2learn.nn.SVClassifier``'s.

    Needs ``qpth``: ``pip install "meta-nn[svm]"``.

    Args:
        support: Support embeddings ``(n, d)``; with ``labels``, fits the SVM at once.
        labels: Their labels ``(n,)``, integers in ``0 .. ways - 1``.
        ways: The number of classes; default the number of distinct labels.
        normalize: L2-normalise embeddings before the SVM.
        C_reg: The SVM's regularisation weight (``C`` of the paper).
        max_iters: The QP solver's iteration limit.

    Attributes:
        C_reg: As given (the default of ``fit_``).
        max_iters: As given (the default of ``fit_``).
        normalize_inputs: The ``normalize`` flag.
        qp_solution: The dual solution ``(n, ways)`` after ``fit_``, else ``None``.
        support: The (normalised) support embeddings after ``fit_``, else ``None``.
        num_support: ``n`` after ``fit_``, else ``None``.
        ways: The number of classes after ``fit_``, else ``None``.

    Raises:
        ImportError: If ``qpth`` is not installed.
        TypeError: If ``max_iters`` is not an int.
        ValueError: If ``C_reg`` or ``max_iters`` is not positive.

    Examples:
        >>> import torch
        >>> support = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> classifier = SVClassifier(support, torch.tensor([0, 1]), C_reg=1.0)
        >>> classifier.qp_solution.round(decimals=4)
        tensor([[ 0.2500, -0.2500],
                [-0.2500,  0.2500]])
        >>> classifier(torch.tensor([[2.0, 0.5]])).argmax(dim=1)
        tensor([0])

    References:
        1. Lee, Maji, Ravichandran and Soatto 2019. "Meta-Learning with Differentiable Convex
           Optimization". CVPR.
    """

    def __init__(
        self,
        support: Tensor | None = None,
        labels: Tensor | None = None,
        ways: int | None = None,
        normalize: bool = False,
        C_reg: float = 0.1,  # noqa: N803 - learn2learn's argument name
        max_iters: int = 15,
    ) -> None:
        super().__init__()
        qp_solver(max_iters)  # fail at construction, not mid-training, without the extra
        self.C_reg = _check_c_reg(C_reg)
        self.max_iters = _check_max_iters(max_iters)
        self.normalize_inputs = bool(normalize)
        self.qp_solution: Tensor | None = None
        self.support: Tensor | None = None
        self.num_support: int | None = None
        self.ways: int | None = None
        if support is not None and labels is not None:
            self.fit_(support, labels, ways)

    def fit_(
        self,
        support: Tensor,
        labels: Tensor,
        ways: int | None = None,
        C_reg: float | None = None,  # noqa: N803 - learn2learn's argument name
        max_iters: int | None = None,
    ) -> Tensor:
        """Fit the SVM to the support set and store its dual solution.

        Args:
            support: Support embeddings ``(n, d)``.
            labels: Their labels ``(n,)``, integers in ``0 .. ways - 1``.
            ways: The number of classes; default the number of distinct labels.
            C_reg: The regularisation weight; default the classifier's ``C_reg``.
            max_iters: The solver's iteration limit; default the classifier's ``max_iters``.

        Returns:
            The dual solution ``(n, ways)``.

        Raises:
            TypeError: If ``support`` or ``labels`` is not a tensor, or ``max_iters`` is not an
                int.
            ValueError: If the shapes are not ``(n, d)`` and ``(n,)``, a label is outside
                ``0 .. ways - 1``, or ``C_reg`` or ``max_iters`` is not positive.
        """
        owner = "SVClassifier.fit_"
        check_tensor(support, owner=owner, name="support")
        check_tensor(labels, owner=owner, name="labels")
        if support.dim() != 2 or labels.shape != support.shape[:1]:
            raise ValueError(
                f"{owner} expects support (n, d) and labels (n,), got shapes "
                f"{tuple(support.shape)} and {tuple(labels.shape)}"
            )
        ways = int(torch.unique(labels).numel()) if ways is None else ways
        if labels.is_floating_point() or int(labels.min()) < 0 or int(labels.max()) >= ways:
            raise ValueError(
                f"{owner} expects integer labels in 0 .. {ways - 1} (ways={ways}), got "
                f"{torch.unique(labels).tolist()}"
            )
        c_reg = self.C_reg if C_reg is None else _check_c_reg(C_reg)
        iterations = self.max_iters if max_iters is None else _check_max_iters(max_iters)
        support = self.normalize(support) if self.normalize_inputs else support
        self.qp_solution = svm_dual(support, labels, ways, c_reg, iterations)
        self.support = support
        self.num_support = support.shape[0]
        self.ways = ways
        return self.qp_solution

    @staticmethod
    def normalize(x: Tensor, epsilon: float = EPSILON) -> Tensor:
        """Divide each row of ``x`` by its L2 norm plus ``epsilon``."""
        return unit_rows(x, epsilon)

    def forward(self, x: Tensor) -> Tensor:
        """Return the SVM logits ``x support' alpha``, shape ``(queries, ways)``.

        Args:
            x: Query embeddings ``(queries, d)``.

        Returns:
            The logits.

        Raises:
            RuntimeError: If the SVM has not been fitted.
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` is not ``(queries, d)`` with the support's ``d``.
        """
        if self.support is None or self.qp_solution is None:
            raise RuntimeError("SVClassifier is not fitted yet: call fit_(support, labels) first")
        check_queries(x, self.support.shape[1], "SVClassifier")
        queries = self.normalize(x) if self.normalize_inputs else x
        logits: Tensor = (queries @ self.support.mT) @ self.qp_solution
        return logits


def _check_c_reg(c_reg: float) -> float:
    if isinstance(c_reg, bool) or not isinstance(c_reg, int | float) or not c_reg > 0:
        raise ValueError(f"SVClassifier: C_reg must be a positive number, got {c_reg!r}")
    return float(c_reg)


def _check_max_iters(max_iters: int) -> int:
    return check_positive_int(max_iters, owner="SVClassifier", name="max_iters")
