"""MetaNN's ProtoModule: a stateful module that also offers its stateless functional."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from meta_functional import Params, functional_forward
from meta_functional.checks import check_one_per_parameter, check_params_match
from torch import Tensor, nn


class ProtoModule(nn.Module):
    """Wrap a module so it can be run with its own weights *or* with any given weights.

    Calling the ``ProtoModule`` runs the wrapped module as usual (stateful).
    [`functional`][meta_nn.ProtoModule.functional] returns a stateless version of it bound to
    given parameters, built on [`functional_forward`][meta_functional.functional_forward].
    [`named_parameters`][meta_nn.ProtoModule.named_parameters] (and hence ``parameters()`` and
    [`named_params`][meta_functional.named_params]) and
    [`named_buffers`][meta_nn.ProtoModule.named_buffers] use the wrapped module's names, without a
    ``"module."`` prefix, so those names are exactly what
    [`functional`][meta_nn.ProtoModule.functional] expects. (``state_dict`` keys do carry the
    ``"module."`` prefix.)

    Args:
        module: The module to wrap. It is shared, not copied.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = ProtoModule(torch.nn.Linear(2, 1))
        >>> zeros = {name: torch.zeros_like(p) for name, p in net.named_parameters()}
        >>> net.functional(zeros)(torch.ones(3, 2))
        tensor([[0.],
                [0.],
                [0.]])
    """

    def __init__(self, module: nn.Module) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"ProtoModule wraps a torch.nn.Module, got {type(module).__name__}")
        super().__init__()
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the wrapped module with its own parameters.

        Args:
            *args: Positional arguments of the wrapped module's ``forward``.
            **kwargs: Keyword arguments of the wrapped module's ``forward``.

        Returns:
            What the wrapped module returns.

        Examples:
            >>> import torch
            >>> ProtoModule(torch.nn.Identity())(torch.ones(2))
            tensor([1., 1.])
        """
        return self.module(*args, **kwargs)

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, nn.Parameter]]:
        """Iterate over the wrapped module's ``(name, parameter)`` pairs, under its own names.

        Args:
            prefix: Prefix prepended to every name.
            recurse: Include the parameters of submodules (default); otherwise only the
                wrapped module's direct parameters.
            remove_duplicate: Yield a tied parameter once (default) or under every name.

        Yields:
            ``(name, parameter)`` pairs, named as in the wrapped module.

        Examples:
            >>> import torch
            >>> [name for name, _ in ProtoModule(torch.nn.Linear(2, 1)).named_parameters()]
            ['weight', 'bias']
        """
        return self.module.named_parameters(
            prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Iterate over the wrapped module's ``(name, buffer)`` pairs, under its own names.

        Args:
            prefix: Prefix prepended to every name.
            recurse: Include the buffers of submodules (default).
            remove_duplicate: Yield a shared buffer once (default) or under every name.

        Yields:
            ``(name, buffer)`` pairs, named as in the wrapped module.

        Examples:
            >>> import torch
            >>> [name for name, _ in ProtoModule(torch.nn.BatchNorm1d(2)).named_buffers()]
            ['running_mean', 'running_var', 'num_batches_tracked']
        """
        return self.module.named_buffers(
            prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def functional(
        self,
        params: Params | Iterable[Tensor],
        training: bool | None = None,
        *,
        buffers: Params | None = None,
    ) -> Callable[..., Any]:
        """Return the wrapped module as a stateless function of the given parameters.

        The parameters are validated now (names, count and shapes); the returned callable
        runs [`functional_forward`][meta_functional.functional_forward] on every call, so
        the output is differentiable with respect to ``params`` and the module's own parameters
        are unused.

        Args:
            params: A mapping ``name -> tensor`` naming exactly the wrapped module's
                parameters (as [`named_parameters`][meta_nn.ProtoModule.named_parameters] does), or
                an iterable of tensors in ``parameters()`` order (e.g. ``net.parameters()`` or
                adapted copies of it).
            training: If not ``None``, the wrapped module (and all its submodules) runs in
                training (``True``) or evaluation (``False``) mode during each call, and its
                previous modes are restored afterwards; ``None`` uses the current modes.
            buffers: Optional buffer mapping for the call (see
                [`functional_forward`][meta_functional.functional_forward]); default: the
                module's own.

        Returns:
            A callable ``f(*args, **kwargs)`` returning what the module's ``forward`` returns.

        Raises:
            KeyError: If a mapping misses parameters or names unknown ones.
            ValueError: If a list has the wrong number of tensors, or a tensor's shape differs
                from its parameter's.
            TypeError: If an entry is not a tensor or ``training`` is not a bool or None.

        Examples:
            >>> import torch
            >>> net = ProtoModule(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)))
            >>> shifted = [p + 1.0 for p in net.parameters()]
            >>> f = net.functional(shifted, training=False)  # no dropout while f runs
            >>> f(torch.ones(1, 2)).shape, net.training
            (torch.Size([1, 2]), True)
        """
        if training is not None and not isinstance(training, bool):
            raise TypeError(f"training must be True, False or None, got {training!r}")
        named = dict(self.named_parameters())
        if isinstance(params, Mapping):
            bound = dict(params)
            check_params_match(self.module, bound)
        else:
            tensors = list(params)
            check_one_per_parameter(self.module, len(tensors), "functional", "tensors")
            bound = dict(zip(named, tensors, strict=True))
        reference = dict(self.named_parameters(remove_duplicate=False))
        for name, tensor in bound.items():
            if not isinstance(tensor, Tensor):
                raise TypeError(f"parameter {name!r} must be a torch.Tensor, got {type(tensor)}")
            if tensor.shape != reference[name].shape:
                raise ValueError(
                    f"parameter {name!r} has shape {tuple(tensor.shape)}; expected "
                    f"{tuple(reference[name].shape)}"
                )
        module = self.module

        def stateless_forward(*args: Any, **kwargs: Any) -> Any:
            if training is None:
                return functional_forward(module, bound, *args, buffers=buffers, **kwargs)
            modes = [(submodule, submodule.training) for submodule in module.modules()]
            module.train(training)
            try:
                return functional_forward(module, bound, *args, buffers=buffers, **kwargs)
            finally:
                for submodule, mode in modes:
                    submodule.training = mode

        return stateless_forward
