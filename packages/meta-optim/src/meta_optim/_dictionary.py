"""Choose a gradient transform per parameter by module or parameter: ``TransformDictionary``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

Transform = Callable[..., Any]


class TransformDictionary:
    """A transform factory that dispatches on the parameter: one factory per module or tensor.

    Pass it where a transform factory is expected (for example to
    [`ParameterUpdate`][meta_optim.ParameterUpdate]): called with a parameter of a module key
    (or with a parameter key itself), it calls that key's factory; with any other parameter it
    returns ``None``, which leaves that parameter without an update. As learn2learn's
    ``optim.transforms.TransformDictionary``.

    Args:
        dictionary: Map from a module (meaning each of its parameters) or a parameter to the
            transform factory for it. A later key wins for a parameter listed twice.

    Raises:
        ValueError: If a key is neither a module nor an ``nn.Parameter``.

    Examples:
        >>> import torch
        >>> from meta_optim import ModuleTransform
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> factory = TransformDictionary({model[0]: ModuleTransform(torch.nn.Linear)})
        >>> [factory(param) is None for param in model.parameters()]
        [False, False, True, True]
    """

    def __init__(self, dictionary: Mapping[nn.Module | nn.Parameter, Transform]) -> None:
        self.param_to_transform: dict[int, tuple[Tensor, Transform]] = {}
        for key, transform in dictionary.items():
            if isinstance(key, nn.Module):
                for param in key.parameters():
                    self.param_to_transform[id(param)] = (param, transform)
            elif isinstance(key, nn.Parameter):
                self.param_to_transform[id(key)] = (key, transform)
            else:
                raise ValueError(
                    "TransformDictionary only accepts modules or parameters as dictionary "
                    f"keys, got {type(key).__name__}"
                )

    def __call__(self, param: Tensor, *args: Any, **kwargs: Any) -> Any:
        """The transform that ``param``'s factory builds, or ``None`` for an unlisted one.

        Args:
            param: The parameter.
            *args: Further positional arguments for the factory.
            **kwargs: Keyword arguments for the factory.

        Returns:
            ``factory(param, *args, **kwargs)``, or ``None``.
        """
        entry = self.param_to_transform.get(id(param))
        if entry is None or entry[0] is not param:
            return None
        return entry[1](param, *args, **kwargs)
