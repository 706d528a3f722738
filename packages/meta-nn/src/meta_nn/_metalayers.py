"""Module rewriting for parameter-efficient meta-learning: ``MetaModule`` and friends.

[`MetaModule`][meta_nn.MetaModule] replaces submodules of a model by others built from them
(for example a layer followed by a new learnable layer), optionally freezing the original
weights; [`ParameterTransform`][meta_nn.ParameterTransform] runs a module with each of its
parameters passed through a learnable transform; [`freeze`][meta_nn.freeze] and
[`unfreeze`][meta_nn.unfreeze] switch a module's parameters off and on. These follow
learn2learn's ``nn.MetaModule``, ``nn.ParameterTransform``, ``nn.freeze`` and ``nn.unfreeze``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from torch import Tensor, nn
from torch.func import functional_call

Substitution = Callable[[nn.Module], nn.Module]


def freeze(module: nn.Module) -> nn.Module:
    """Detach every parameter of ``module`` in place and stop it requiring grad.

    Args:
        module: The module to freeze; changed in place.

    Returns:
        ``module`` itself.

    Examples:
        >>> import torch
        >>> linear = freeze(torch.nn.Linear(3, 2))
        >>> [p.requires_grad for p in linear.parameters()]
        [False, False]
    """
    for param in module.parameters():
        param.detach_()
        param.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Make every parameter of ``module`` require grad again (in place).

    Args:
        module: The module to unfreeze; changed in place.

    Returns:
        ``module`` itself.

    Examples:
        >>> import torch
        >>> linear = unfreeze(freeze(torch.nn.Linear(3, 2)))
        >>> [p.requires_grad for p in linear.parameters()]
        [True, True]
    """
    for param in module.parameters():
        param.requires_grad_(True)
    return module


def _meta_parameters(module: nn.Module) -> Iterator[nn.Parameter]:
    """The ``meta_parameters()`` of ``module`` and of every module below it, depth first."""
    own = getattr(module, "meta_parameters", None)
    if callable(own):
        yield from own()
    for child in module.children():
        yield from _meta_parameters(child)


class ParameterTransform(nn.Module):
    """Call ``module`` with each of its parameters replaced by ``transform(param)(param)``.

    At construction, ``transform`` is called once per parameter of ``module`` and returns the
    (usually learnable) module that maps that parameter to the value used in the forward pass,
    for example [`Scale`][meta_nn.Scale] to learn a factor on frozen weights. The forward pass
    runs ``module`` through ``torch.func.functional_call``, so the module itself is never
    modified.

    Args:
        module: The module to wrap.
        transform: Called with each parameter; returns the module that transforms it.

    Attributes:
        module: The wrapped module.
        transform: The factory, as given.
        parameter_transforms: One transform per parameter, keyed by parameter name (dots, as
            in nested names, become underscores: a ``ModuleDict`` key cannot hold a dot).

    Raises:
        TypeError: If ``module`` is not a module, ``transform`` is not callable or returns
            something that is not a module.

    References:
        1. Hu et al. 2021. "LoRA: Low-Rank Adaptation of Large Language Models".

    Examples:
        >>> import torch
        >>> from meta_nn import Scale
        >>> linear = torch.nn.Linear(2, 1)
        >>> scaled = ParameterTransform(linear, lambda param: Scale(alpha=2.0))
        >>> x = torch.ones(1, 2)
        >>> torch.allclose(scaled(x), 2 * linear(x))
        True
        >>> len(list(scaled.meta_parameters()))
        2
    """

    def __init__(self, module: nn.Module, transform: Callable[[Tensor], nn.Module]) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"ParameterTransform expects module to be a torch.nn.Module, got "
                f"{type(module).__name__}"
            )
        if not callable(transform):
            raise TypeError(
                f"ParameterTransform expects transform to be callable, got "
                f"{type(transform).__name__}"
            )
        self.module = module
        self.transform = transform
        self._parameter_names = [name for name, _ in module.named_parameters()]
        transforms: dict[str, nn.Module] = {}
        for name, param in module.named_parameters():
            built = transform(param)
            if not isinstance(built, nn.Module):
                raise TypeError(
                    f"ParameterTransform: transform({name!r}) returned "
                    f"{type(built).__name__}; expected a torch.nn.Module"
                )
            transforms[name.replace(".", "_")] = built
        self.parameter_transforms = nn.ModuleDict(transforms)

    def transformed_parameters(self) -> dict[str, Tensor]:
        """Each parameter of ``module`` after its transform, by name.

        Returns:
            ``{name: transform(param)}`` for every parameter of ``module``.
        """
        params = dict(self.module.named_parameters())
        return {
            name: self.parameter_transforms[name.replace(".", "_")](params[name])
            for name in self._parameter_names
        }

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``module`` with the transformed parameters.

        Args:
            *args: Positional arguments for ``module``.
            **kwargs: Keyword arguments for ``module``.

        Returns:
            What ``module`` returns.
        """
        return functional_call(self.module, self.transformed_parameters(), args, kwargs)

    def meta_parameters(self) -> Iterator[nn.Parameter]:
        """Yield the parameters of the transforms (not those of ``module``).

        Yields:
            Each transform's parameters, transform by transform.
        """
        for transform in self.parameter_transforms.values():
            yield from transform.parameters()


class MetaModule(nn.Module):
    """Rebuild a model with some submodules replaced, e.g. to add learnable layers to it.

    ``substitutions`` maps a module class to a function that builds the replacement from a
    module of exactly that class. The model is walked from the top: a module whose class is a
    key is replaced by ``substitutions[cls](module)``; then each of the *original* module's
    children is wrapped the same way and set, under its name, on the (possibly new) module.
    As in learn2learn, the walk rewires the given model's containers in place, so ``module``
    itself ends up holding the wrapped children. With ``freeze_module`` every parameter of the
    original model stops requiring grad, so only the new modules learn.

    Args:
        module: The model to wrap.
        substitutions: Map from a module class to the function that builds its replacement.
        freeze_module: Whether to freeze the original model's parameters.

    Attributes:
        wrapped_module: The rewritten model, which ``forward`` calls.
        substitutions: The map, as given.
        freeze_module: The flag, as given.

    Raises:
        TypeError: If ``module`` is not a module or a substitution returns a non-module.

    Examples:
        >>> import torch
        >>> original = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
        >>> def add_norm(linear):
        ...     return torch.nn.Sequential(linear, torch.nn.LayerNorm(4))
        >>> wrapped = MetaModule(original, {torch.nn.Linear: add_norm})
        >>> [name for name, p in wrapped.named_parameters() if p.requires_grad]
        ['wrapped_module.0.1.weight', 'wrapped_module.0.1.bias']
        >>> wrapped(torch.ones(2, 4)).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        module: nn.Module,
        substitutions: Mapping[type[nn.Module], Substitution],
        freeze_module: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"MetaModule expects module to be a torch.nn.Module, got {type(module).__name__}"
            )
        self.substitutions = substitutions
        self.freeze_module = freeze_module
        self.wrapped_module = self._wrap(module)

    def _wrap(self, module: nn.Module) -> nn.Module:
        new_module = module
        substitute = self.substitutions.get(type(module))
        if substitute is not None:
            new_module = substitute(module)
            if not isinstance(new_module, nn.Module):
                raise TypeError(
                    f"MetaModule: the substitution for {type(module).__name__} returned "
                    f"{type(new_module).__name__}; expected a torch.nn.Module"
                )
        for name, child in list(module.named_children()):
            new_module._modules[name] = self._wrap(child)
        if self.freeze_module:
            for param in module._parameters.values():
                if param is not None:
                    param.requires_grad_(False)
        return new_module

    def _unwrap(self, module: nn.Module) -> nn.Module:
        inner = getattr(module, "module", None)
        base = inner if isinstance(inner, nn.Module) else module
        for name, child in list(base.named_children()):
            base._modules[name] = self._unwrap(child)
        return base

    def meta_parameters(self, module: nn.Module | None = None) -> Iterator[nn.Parameter]:
        """Yield the ``meta_parameters()`` of every module in the wrapped model.

        Args:
            module: Where to start; the wrapped model by default.

        Yields:
            The parameters that each submodule with a ``meta_parameters`` method (such as
            [`ParameterTransform`][meta_nn.ParameterTransform]) reports, depth first.
        """
        yield from _meta_parameters(self.wrapped_module if module is None else module)

    def module(self) -> nn.Module:
        """The model with each wrapper that holds a ``module`` replaced by that module.

        Returns:
            The rewritten model without its ``ParameterTransform``-style wrappers (rewired in
            place, as the wrapping was).
        """
        return self._unwrap(self.wrapped_module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped model.

        Args:
            *args: Positional arguments for the model.
            **kwargs: Keyword arguments for the model.

        Returns:
            What the wrapped model returns.
        """
        return self.wrapped_module(*args, **kwargs)
