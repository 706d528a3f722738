"""MetaNN's ``ProtoModule`` and ``tensor_copy`` (``metann.proto``), on meta-nn's DependentModule.

MetaNN's ``ProtoModule`` is not [`meta_nn.ProtoModule`][meta_nn.ProtoModule]: its
``functional(params)`` returns one stateless module (a deep copy of the wrapped module, made
when the ``ProtoModule`` is built) with ``params`` substituted, and that copy keeps its own
buffers. Code written for MetaNN depends on both (the adapted models MetaNN's learners return
are such modules, and their BatchNorm statistics never reach the user's module), so the
compatibility layer keeps MetaNN's semantics here, built from
[`DependentModule.stateless`][meta_nn.DependentModule.stateless] and
[`substitute`][meta_nn.DependentModule.substitute].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import meta_nn
from meta_nn import DependentModule, MultipleList
from torch import Tensor, nn

#: What ``tensor_copy`` takes: a tensor, ``None`` or (nested) iterables of them.
TensorTree: TypeAlias = Tensor | Iterable[Any] | None


class ProtoModule(meta_nn.ProtoModule):
    """MetaNN's ProtoModule: a module that also runs statelessly at given parameters.

    Calling it runs the wrapped module (shared, not copied) as usual, and
    ``named_parameters()`` and ``parameters()`` are the wrapped module's, under its own names:
    both are [`meta_nn.ProtoModule`][meta_nn.ProtoModule]'s. What differs is
    [`functional`][meta_all.compat.metann.ProtoModule.functional]: it substitutes given tensors
    into ``stateless``, a [`DependentModule.stateless`][meta_nn.DependentModule.stateless] deep
    copy of the module taken at construction, and returns that copy: the same module object on
    every call, holding the last parameters given, with its own buffers (BatchNorm statistics
    updated by functional calls stay in the copy). ``named_buffers()`` is ``nn.Module``'s, as in
    MetaNN: the wrapped module's buffers under ``module.`` and the copy's under ``stateless.``.

    Args:
        module: The module to wrap.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = ProtoModule(torch.nn.Linear(2, 1))
        >>> params = [torch.zeros_like(p) for p in net.parameters()]
        >>> net.functional(params)(torch.ones(3, 2))
        tensor([[0.],
                [0.],
                [0.]])
        >>> net.functional(params) is net.stateless
        True
    """

    # MetaNN names every buffer of the ProtoModule, the copy's included (``module.running_mean``,
    # ``stateless.running_mean``), as nn.Module does; meta-nn names the wrapped module's only.
    named_buffers = nn.Module.named_buffers

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.stateless = DependentModule.stateless(module)

    # MetaNN's functional returns its stateless copy and takes no buffers, unlike meta-nn's
    # functional(params, training, *, buffers) -> function: code written for MetaNN relies on it.
    def functional(  # type: ignore[override]
        self, params: Mapping[str, Tensor] | Iterable[Tensor], training: bool | None = None
    ) -> DependentModule:
        """Substitute ``params`` into the stateless copy and return it.

        Args:
            params: Tensors in ``parameters()`` order (MetaNN's form, e.g. adapted copies of
                ``list(proto.parameters())``), or a mapping ``name -> tensor`` naming every
                parameter.
            training: Mode of the returned module (it stays in that mode); ``None``: this
                ``ProtoModule``'s mode.

        Returns:
            ``self.stateless``, holding ``params`` (graphs kept: a loss of its output
            back-propagates into them).

        Raises:
            ValueError: If the number of tensors or a shape does not fit the module.
            KeyError: If a mapping misses a parameter or names an unknown one.
            TypeError: If an entry is not a tensor.

        Examples:
            >>> import torch
            >>> proto = ProtoModule(torch.nn.Sequential(torch.nn.Dropout(0.5)))
            >>> proto.functional([], training=False).training
            False
        """
        training = self.training if training is None else training
        if isinstance(params, Mapping):
            self.stateless.substitute(params)
        else:
            self.stateless.substitute_from_list(params)
        self.stateless.train(bool(training))
        return self.stateless


def tensor_copy(tensor_lst: TensorTree) -> Tensor | MultipleList[Any] | None:
    """Clone a tensor, or every tensor of a (nested) iterable, as MetaNN's ``tensor_copy``.

    Args:
        tensor_lst: A tensor, ``None``, or an iterable of tensors, ``None`` and iterables.

    Returns:
        ``tensor.clone()`` for a tensor (its graph kept), ``None`` for ``None``, and a
        [`MultipleList`][meta_nn.MultipleList] of the copies for an iterable.

    Raises:
        TypeError: If an entry is neither a tensor, ``None`` nor an iterable.

    Examples:
        >>> import torch
        >>> weights = [torch.ones(2, requires_grad=True), None]
        >>> copies = tensor_copy(weights)
        >>> copies[0] is weights[0], copies[0].grad_fn is not None, copies[1]
        (False, True, None)
    """
    if isinstance(tensor_lst, Tensor):
        return tensor_lst.clone()
    if tensor_lst is None:
        return None
    if not isinstance(tensor_lst, Iterable) or isinstance(tensor_lst, str | bytes):
        raise TypeError(
            f"tensor_copy takes a tensor, None or an iterable of them, got "
            f"{type(tensor_lst).__name__}"
        )
    return MultipleList([tensor_copy(entry) for entry in tensor_lst])
