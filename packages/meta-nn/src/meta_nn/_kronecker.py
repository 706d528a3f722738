"""Linear and recurrent layers whose matrices are Kronecker products of two small factors."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._layers import check_positive_int, check_tensor

Activation = Callable[[Tensor], Tensor]


def kronecker_addmm(
    mat1: Tensor,
    mat2: Tensor,
    mat3: Tensor,
    bias: Tensor | None = None,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> Tensor:
    """Return ``alpha * mat1 @ mat3 @ mat2 + beta * bias``: a Kronecker product times a vector.

    With column-major ``vec``, ``vec(mat1 @ mat3 @ mat2) = kron(mat2.T, mat1) @ vec(mat3)``, so
    this applies the Kronecker product of two small factors without forming it (learn2learn's
    ``kronecker_addmm``; [`KroneckerLinear`][meta_nn.KroneckerLinear] is built on it).

    Args:
        mat1: Left factor ``(n, n)``.
        mat2: Right factor ``(m, m)``.
        mat3: The matrix (or batch of matrices) ``(..., n, m)``.
        bias: Optional tensor broadcasting to the result, added after scaling.
        alpha: Factor on the product.
        beta: Factor on ``bias``.

    Returns:
        The result, of ``mat3``'s shape.

    Examples:
        >>> import torch
        >>> left, right = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.eye(1)
        >>> kronecker_addmm(left, right, torch.ones(2, 1), torch.ones(2, 1), alpha=0.5).tolist()
        [[2.0], [1.5]]
    """
    result = alpha * torch.matmul(torch.matmul(mat1, mat3), mat2)
    if bias is not None:
        result = result + beta * bias
    return result


def _layout(x: object, n: int, m: int, *, owner: str, name: str) -> tuple[Tensor, bool]:
    """Return ``(x, is_matrix)``: matrix input is ``(..., n, m)``, flat input ``(..., n*m)``.

    A trailing ``(n, m)`` makes a matrix, as in learn2learn (where every input of two or more
    dims is one); both readings can only apply when ``n == 1``.
    """
    tensor = check_tensor(x, owner=owner, name=name)
    if tensor.dim() >= 2 and tuple(tensor.shape[-2:]) == (n, m):
        return tensor, True
    if tensor.dim() >= 1 and tensor.shape[-1] == n * m:
        return tensor, False
    raise ValueError(
        f"{owner}(n={n}, m={m}) expects {name} of shape (..., n*m) = (..., {n * m}) or "
        f"(..., n, m) = (..., {n}, {m}), got shape {tuple(tensor.shape)}"
    )


def _state(
    x: Tensor, matrix: bool, state: object, n: int, m: int, *, owner: str, name: str
) -> Tensor:
    """Check a recurrent state: the layout of ``x`` and a batch shape that broadcasts with it."""
    tensor, state_matrix = _layout(state, n, m, owner=owner, name=name)
    if state_matrix != matrix:
        layout = f"a matrix (..., {n}, {m})" if matrix else f"flat (..., {n * m})"
        raise ValueError(
            f"{owner} expects {name} in the layout of the input x, {layout}, got shape "
            f"{tuple(tensor.shape)}"
        )
    features = 2 if matrix else 1
    batch = tuple(x.shape[: x.dim() - features])
    if not _broadcastable(batch, tuple(tensor.shape[: tensor.dim() - features])):
        raise ValueError(
            f"{owner} expects {name} to have the same batch size as the input x "
            f"({', '.join(map(str, batch))}) or no batch dimension, got shape "
            f"{tuple(tensor.shape)}"
        )
    return tensor


def _broadcastable(first: tuple[int, ...], second: tuple[int, ...]) -> bool:
    """Whether two shapes broadcast (trailing dims equal or 1; the shorter one is padded)."""
    pairs = zip(reversed(first), reversed(second), strict=False)  # unequal lengths are fine
    return all(a == b or 1 in (a, b) for a, b in pairs)


def _check_activation(sigma: Activation | None, *, owner: str) -> Activation:
    if sigma is None:
        return torch.tanh
    if not callable(sigma):
        raise TypeError(
            f"{owner} expects sigma to be a callable Tensor -> Tensor or None, "
            f"got {type(sigma).__name__} ({sigma!r})"
        )
    return sigma


class KroneckerLinear(nn.Module):
    r"""Affine map ``y = A x + b`` with ``A = kron(L, R)`` stored as its two factors.

    ``L`` is ``(n, n)`` and ``R`` is ``(m, m)``, so ``A`` is ``(n*m, n*m)`` but is never built.
    Two input layouts, each with any leading (batch) dims:

    * matrix input ``X`` of shape ``(..., n, m)``: ``Y = L @ X @ R + B`` with ``B`` the bias
      viewed as ``(n, m)``, exactly as learn2learn's ``KroneckerLinear`` (the map
      ``vec(X) -> kron(R^T, L) vec(X)`` on column-major ``vec``);
    * flat input ``x`` of shape ``(..., n*m)``: ``y = kron(L, R) @ x + b``, computed as the
      row-major flattening of ``L @ X @ R^T`` with ``X = x.reshape(..., n, m)``
      (``torch.kron`` indexes ``A[i*m + k, j*m + l] = L[i, j] * R[k, l]``).

    The two agree (flat input is the row-major flattening of matrix input) whenever ``R`` is
    symmetric: always with ``psd=True``, and at initialisation. An input whose last two dims
    are ``(n, m)`` is a matrix. Parameters take ``O(n^2 + m^2)`` memory and ``B`` inputs cost
    ``O(B * n * m * (n + m))`` time instead of ``O(B * n^2 * m^2)``.

    Initialisation: ``A`` is the identity and ``b`` is zero.

    Parameters (the names matter for ``torch.func.functional_call``):

    * ``left`` ``(n, n)`` and ``right`` ``(m, m)``: with ``psd=False`` these are ``L`` and ``R``.
      With ``psd=True`` they are square roots ``P`` and ``Q`` and the layer uses
      ``L = P P^T`` and ``R = Q Q^T``. Both factors are then symmetric positive semi-definite,
      and so is ``A = kron(L, R)`` (its eigenvalues are products of the factors' eigenvalues),
      for any value of the parameters, including after unconstrained gradient steps.
    * ``bias`` ``(n*m,)`` (viewed as ``(n, m)`` for matrix input), present when ``bias=True``.

    Use [`factors`][meta_nn.KroneckerLinear.factors] to get the effective ``(L, R)``.

    Args:
        n: Size of the left Kronecker factor.
        m: Size of the right Kronecker factor.
        bias: Whether to add the learnable bias ``b``.
        psd: Keep ``A`` positive semi-definite through the ``P P^T`` parameterisation.
        device: Device on which to create the parameters.

    Raises:
        TypeError: If ``n`` or ``m`` is not an int.
        ValueError: If ``n`` or ``m`` is not positive.

    References:
        1. Jose et al. 2018. "Kronecker recurrent units".
        2. Arnold et al. 2019. "When MAML can adapt fast and how to assist when it cannot".

    Examples:
        >>> import torch
        >>> m, n = 2, 3
        >>> x = torch.randn(6)
        >>> kronecker = KroneckerLinear(n, m)
        >>> y = kronecker(x)
        >>> y.shape
        torch.Size([6])
        >>> torch.allclose(y, x)  # A = I and b = 0 at initialisation
        True
    """

    def __init__(
        self,
        n: int,
        m: int,
        bias: bool = True,
        psd: bool = False,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.n = check_positive_int(n, owner="KroneckerLinear", name="n")
        self.m = check_positive_int(m, owner="KroneckerLinear", name="m")
        self.psd = bool(psd)
        self.left = nn.Parameter(torch.eye(n, device=device))
        self.right = nn.Parameter(torch.eye(m, device=device))
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.zeros(n * m, device=device))
        else:
            self.register_parameter("bias", None)

    def factors(self) -> tuple[Tensor, Tensor]:
        """Return the effective Kronecker factors ``(L, R)``, so that ``A = torch.kron(L, R)``.

        Returns:
            ``(left, right)`` when ``psd=False``; ``(left @ left.T, right @ right.T)`` otherwise.

        Examples:
            >>> import torch
            >>> layer = KroneckerLinear(2, 3)
            >>> torch.equal(torch.kron(*layer.factors()), torch.eye(6))
            True
        """
        if self.psd:
            return self.left @ self.left.mT, self.right @ self.right.mT
        return self.left, self.right

    def forward(self, x: Tensor) -> Tensor:
        """Apply ``y = kron(L, R) x + b`` without forming ``kron(L, R)``.

        Args:
            x: Matrix input ``(..., n, m)`` or flat input ``(..., n*m)``.

        Returns:
            Output of the same shape as ``x``.

        Raises:
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` ends neither in ``(n, m)`` nor in ``n*m``.

        Examples:
            >>> import torch
            >>> KroneckerLinear(4, 5)(torch.randn(7, 20)).shape
            torch.Size([7, 20])
            >>> KroneckerLinear(4, 5)(torch.randn(7, 4, 5)).shape
            torch.Size([7, 4, 5])
        """
        x, matrix = _layout(x, self.n, self.m, owner="KroneckerLinear", name="input")
        left, right = self.factors()
        bias = None if self.bias is None else self.bias.view(self.n, self.m)
        if matrix:
            return kronecker_addmm(left, right, x, bias)
        grid = x.reshape(*x.shape[:-1], self.n, self.m)
        return kronecker_addmm(left, right.mT, grid, bias).reshape(x.shape)

    def extra_repr(self) -> str:
        """Summarise the configuration in ``repr``."""
        return f"n={self.n}, m={self.m}, bias={self.bias is not None}, psd={self.psd}"


class _KroneckerCell(nn.Module):
    """The shell the Kronecker recurrent cells share: checked ``n``, ``m``, ``sigma``, layouts.

    Error messages name the concrete cell (``type(self).__name__``).
    """

    def __init__(self, n: int, m: int, sigma: Activation | None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.n = check_positive_int(n, owner=owner, name="n")
        self.m = check_positive_int(m, owner=owner, name="m")
        self.sigma = _check_activation(sigma, owner=owner)

    def _checked_input(self, x: object) -> tuple[Tensor, bool]:
        """Return ``(x, is_matrix)`` for the input ``x`` (see ``_layout``)."""
        return _layout(x, self.n, self.m, owner=type(self).__name__, name="input x")

    def _checked_state(self, x: Tensor, matrix: bool, state: object, *, name: str) -> Tensor:
        """Check a recurrent state against the input ``x`` (see ``_state``)."""
        return _state(x, matrix, state, self.n, self.m, owner=type(self).__name__, name=name)

    def extra_repr(self) -> str:
        """Summarise the configuration in ``repr``."""
        return f"n={self.n}, m={self.m}"


class KroneckerRNN(_KroneckerCell):
    r"""Elman RNN cell whose three ``(n*m, n*m)`` matrices are Kronecker-factored.

    With ``W_h``, ``W_x`` and ``W_y`` three [`KroneckerLinear`][meta_nn.KroneckerLinear] maps,

    .. math::
        h' = \sigma(W_h h + b_h + W_x x), \qquad y = W_y h' + b_y.

    Submodules: ``hidden_map`` (``W_h``, bias ``b_h`` if ``bias``), ``input_map`` (``W_x``,
    never a bias: ``b_h`` already plays that role) and ``output_map`` (``W_y``, bias ``b_y``
    if ``bias``). All matrices start as the identity and all biases at zero, so at
    initialisation ``h' = sigma(h + x)`` and ``y = h'``.

    Args:
        n: Size of the left Kronecker factors.
        m: Size of the right Kronecker factors.
        bias: Whether ``hidden_map`` and ``output_map`` have a bias.
        sigma: The activation ``Tensor -> Tensor``; ``None`` means ``torch.tanh``.

    Raises:
        TypeError: If ``n`` or ``m`` is not an int, or ``sigma`` is neither callable nor None.
        ValueError: If ``n`` or ``m`` is not positive.

    References:
        1. Jose et al. 2018. "Kronecker recurrent units".

    Examples:
        >>> import torch
        >>> m, n = 2, 3
        >>> x = torch.randn(6)
        >>> h = torch.randn(6)
        >>> kronecker = KroneckerRNN(n, m)
        >>> y, new_h = kronecker(x, h)
        >>> y.shape, new_h.shape
        (torch.Size([6]), torch.Size([6]))
    """

    def __init__(self, n: int, m: int, bias: bool = True, sigma: Activation | None = None) -> None:
        super().__init__(n, m, sigma)
        self.hidden_map = KroneckerLinear(n, m, bias=bias)
        self.input_map = KroneckerLinear(n, m, bias=False)
        self.output_map = KroneckerLinear(n, m, bias=bias)

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run one step of the recurrence.

        Args:
            x: Input, matrix ``(..., n, m)`` or flat ``(..., n*m)`` (see
                [`KroneckerLinear`][meta_nn.KroneckerLinear]).
            h: Previous hidden state in the layout of ``x``; ``None`` means zeros. Batch dims
                broadcast: an unbatched ``h`` serves a batched ``x`` and vice versa.

        Returns:
            ``(y, new_h)``, both of the broadcast shape of ``x`` and ``h``.

        Raises:
            TypeError: If ``x`` or ``h`` is not a tensor.
            ValueError: If a shape ends neither in ``(n, m)`` nor in ``n*m``, ``h`` is not in
                the layout of ``x``, or their batch dims do not broadcast.

        Examples:
            >>> import torch
            >>> y, h = KroneckerRNN(2, 2)(torch.randn(5, 4))
            >>> y.shape, h.shape
            (torch.Size([5, 4]), torch.Size([5, 4]))
        """
        x, matrix = self._checked_input(x)
        h = torch.zeros_like(x) if h is None else h
        h = self._checked_state(x, matrix, h, name="hidden state h")
        new_h = self.sigma(self.hidden_map(h) + self.input_map(x))
        return self.output_map(new_h), new_h


_GATES = ("input", "forget", "cell", "output")


class KroneckerLSTM(_KroneckerCell):
    r"""LSTM cell whose eight ``(n*m, n*m)`` matrices are Kronecker-factored.

    For each gate ``g`` in ``input, forget, cell, output`` there is an input map ``U_g``
    (``input_maps[g]``, no bias) and a hidden map ``W_g`` (``hidden_maps[g]``, with bias
    ``b_g`` if ``bias``), all [`KroneckerLinear`][meta_nn.KroneckerLinear] initialised to the
    identity with zero bias. One step computes

    .. math::
        i = s(U_i x + W_i h + b_i),\quad f = s(U_f x + W_f h + b_f),\quad
        o = s(U_o x + W_o h + b_o),\quad g = \sigma(U_c x + W_c h + b_c),

        c' = f \odot c + i \odot g,\qquad h' = o \odot \sigma(c'),\qquad y = h',

    with ``s`` the logistic sigmoid and ``sigma`` the activation (default ``tanh``), as in
    ``torch.nn.LSTMCell``. The output ``y`` is the new hidden state ``h'``.

    Hidden-state format: the state is a pair ``(h, c)`` of hidden and cell state. ``forward``
    accepts ``None`` (both zero), a single tensor ``h`` (the hidden state, with the cell
    state taken as zero: this is what the reference example passes) or a tuple ``(h, c)``.
    It always returns ``(y, (h', c'))``, so feeding the returned state back in carries the
    cell state across steps.

    Args:
        n: Size of the left Kronecker factors.
        m: Size of the right Kronecker factors.
        bias: Whether the hidden maps have biases.
        sigma: The activation used for the candidate and the cell output; ``None`` means
            ``torch.tanh``. The gates always use the sigmoid.

    Raises:
        TypeError: If ``n`` or ``m`` is not an int, or ``sigma`` is neither callable nor None.
        ValueError: If ``n`` or ``m`` is not positive.

    References:
        1. Jose et al. 2018. "Kronecker recurrent units".

    Examples:
        >>> import torch
        >>> m, n = 2, 3
        >>> x = torch.randn(6)
        >>> h = torch.randn(6)
        >>> kronecker = KroneckerLSTM(n, m)
        >>> y, new_h = kronecker(x, h)
        >>> y.shape
        torch.Size([6])
        >>> new_hidden, new_cell = new_h
        >>> new_hidden.shape, new_cell.shape
        (torch.Size([6]), torch.Size([6]))
    """

    def __init__(self, n: int, m: int, bias: bool = True, sigma: Activation | None = None) -> None:
        super().__init__(n, m, sigma)
        self.input_maps = nn.ModuleDict(
            {gate: KroneckerLinear(n, m, bias=False) for gate in _GATES}
        )
        self.hidden_maps = nn.ModuleDict(
            {gate: KroneckerLinear(n, m, bias=bias) for gate in _GATES}
        )

    def forward(
        self, x: Tensor, h: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run one LSTM step.

        Args:
            x: Input, matrix ``(..., n, m)`` or flat ``(..., n*m)`` (see
                [`KroneckerLinear`][meta_nn.KroneckerLinear]).
            h: ``None``, a hidden state tensor (cell state zero), or a tuple ``(h, c)``; each
                in the layout of ``x``, with batch dims that broadcast with those of ``x``.

        Returns:
            ``(y, (new_h, new_c))`` where ``y`` is ``new_h``.

        Raises:
            TypeError: If ``x``, ``h`` or ``c`` is not a tensor or ``h`` is a tuple whose
                length is not 2.
            ValueError: If a shape ends neither in ``(n, m)`` nor in ``n*m``, a state is not
                in the layout of ``x``, or batch dims do not broadcast.

        Examples:
            >>> import torch
            >>> lstm = KroneckerLSTM(2, 2)
            >>> y, state = lstm(torch.randn(3, 4))
            >>> y, state = lstm(torch.randn(3, 4), state)
            >>> y.shape, state[1].shape
            (torch.Size([3, 4]), torch.Size([3, 4]))
        """
        owner = type(self).__name__
        x, matrix = self._checked_input(x)
        hidden, cell = self._split_state(x, h)
        hidden = self._checked_state(x, matrix, hidden, name="hidden state")
        cell = self._checked_state(x, matrix, cell, name="cell state")
        if not _broadcastable(tuple(hidden.shape), tuple(cell.shape)):
            raise ValueError(
                f"{owner} expects hidden and cell state with the same batch size, got shapes "
                f"{tuple(hidden.shape)} and {tuple(cell.shape)}"
            )
        pre = {gate: self.input_maps[gate](x) + self.hidden_maps[gate](hidden) for gate in _GATES}
        input_gate = torch.sigmoid(pre["input"])
        forget_gate = torch.sigmoid(pre["forget"])
        output_gate = torch.sigmoid(pre["output"])
        candidate = self.sigma(pre["cell"])
        new_cell = forget_gate * cell + input_gate * candidate
        new_hidden = output_gate * self.sigma(new_cell)
        return new_hidden, (new_hidden, new_cell)

    def _split_state(
        self, x: Tensor, h: Tensor | tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        owner = type(self).__name__
        if h is None:
            return torch.zeros_like(x), torch.zeros_like(x)
        if isinstance(h, tuple | list):
            if len(h) != 2:
                raise TypeError(
                    f"{owner} expects the state h to be a tensor or a pair (h, c), "
                    f"got a {type(h).__name__} of length {len(h)}"
                )
            return h[0], h[1]
        hidden = check_tensor(h, owner=owner, name="state h (a tensor or (h, c))")
        return hidden, torch.zeros_like(hidden)
