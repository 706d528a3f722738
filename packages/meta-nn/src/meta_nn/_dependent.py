"""MetaNN's DependentModule: modules whose weights may be non-leaf (dependent) tensors."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import torch
from meta_functional import refresh_rnn_weights
from meta_functional.checks import describe_mismatch, describe_names
from torch import Tensor, nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)

#: Cache of the generated ``Dependent<Name>`` classes, keyed by the converted class.
_DEPENDENT_CLASSES: dict[type[nn.Module], type[DependentModule]] = {}


def _clear_all(module: nn.Module) -> bool:
    """Default ``clear_filter``: clear the parameters of every module."""
    return True


class DependentModule(nn.Module):
    """A module whose weights can be *dependents*: tensors computed from other tensors.

    PyTorch requires parameters to be leaf tensors, which is exactly what meta-learning does
    not want: fast weights are functions of the meta-parameters. A ``DependentModule`` stores
    such weights as *dependents*, registered as non-persistent buffers, so its unchanged
    ``forward`` reads ``self.weight`` as usual while the value may be any tensor, leaf or not,
    and gradients flow through it to whatever it was computed from.

    ``DependentModule(module)`` converts ``module`` **in place** and returns it: the module and
    every submodule get their class swapped for a generated subclass ``Dependent<ClassName>``
    (``nn.Linear`` becomes ``DependentLinear``), keeping all state. Parameters stay parameters
    until [`clear_params`][meta_nn.DependentModule.clear_params] turns them into dependents. Use
    ``DependentModule(copy.deepcopy(net))`` to keep ``net`` unchanged. You can also subclass
    ``DependentModule`` directly and call
    [`register_dependent`][meta_nn.DependentModule.register_dependent] in ``__init__``.

    A submodule assigned to a dependent module later (``dnet.head = nn.Linear(4, 2)``) is
    converted too. Calling a module whose own dependents are unset (``None``, e.g. after
    ``clear_params(init=False)``) raises a ``ValueError`` naming them.

    Converted modules deep-copy normally but cannot be pickled as whole objects (their classes
    are generated at run time): save a ``state_dict`` instead. Dependents are not part of the
    ``state_dict``.

    Args:
        *args: Exactly one ``nn.Module`` to convert when called as ``DependentModule(module)``;
            nothing when a subclass is instantiated.
        **kwargs: Not accepted by ``DependentModule`` itself; passed on by subclasses.

    Raises:
        TypeError: If ``DependentModule(...)`` gets anything but a single module.

    Examples:
        >>> import torch
        >>> from torch.nn import Linear, Sequential
        >>> net = Sequential(Linear(10, 5), Linear(5, 2))
        >>> DependentModule(net)
        DependentSequential(
          (0): DependentLinear(in_features=10, out_features=5, bias=True)
          (1): DependentLinear(in_features=5, out_features=2, bias=True)
        )
        >>> _ = net.clear_params(init=True)
        >>> [name for name, _ in net.named_dependents()]
        ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    _dependent_names: list[str]
    _dependent_shapes: dict[str, torch.Size | None]

    def __new__(cls, *args: Any, **kwargs: Any) -> DependentModule:
        if cls is DependentModule and (args or kwargs):
            if len(args) != 1 or kwargs or not isinstance(args[0], nn.Module):
                given = ", ".join(
                    [type(arg).__name__ for arg in args] + [f"{key}=..." for key in kwargs]
                )
                raise TypeError(
                    f"DependentModule(module) expects exactly one torch.nn.Module to convert, "
                    f"got ({given})"
                )
            return cls.to_dependentmodule(args[0])
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and not kwargs and args[0] is self:
            # DependentModule(module) converted ``module`` in place in __new__ and Python now
            # calls __init__ on the returned object: it is already initialised.
            return
        super().__init__(*args, **kwargs)
        self._init_dependents()

    def _init_dependents(self) -> None:
        if "_dependent_names" not in self.__dict__:
            object.__setattr__(self, "_dependent_names", [])
            object.__setattr__(self, "_dependent_shapes", {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        unset = [name for name in self._dependent_names if self._buffers.get(name) is None]
        if unset:
            raise ValueError(
                f"{type(self).__name__} was called while its dependents {describe_names(unset)} "
                f"are unset (None); give them values with substitute(...), "
                f"substitute_from_list(...) or clear_params(init=True) first"
            )
        return super().__call__(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        # As in MetaNN, a submodule assigned to a dependent module is converted (in place).
        if isinstance(value, nn.Module) and not isinstance(value, DependentModule):
            DependentModule.to_dependentmodule(value)
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ conversion

    @classmethod
    def to_dependentmodule(cls, module: nn.Module, recurse: bool = True) -> DependentModule:
        """Convert ``module`` (and, if ``recurse``, all its submodules) in place.

        Each module's class is swapped for ``Dependent<ClassName>``, a generated subclass of
        both ``DependentModule`` and the original class, so behaviour and ``repr`` are kept.
        Modules that already are dependent modules are left as they are.

        Args:
            module: The module to convert.
            recurse: Convert every submodule too (default); otherwise only ``module``.

        Returns:
            ``module`` itself, now a ``DependentModule``.

        Raises:
            TypeError: If ``module`` is not an ``nn.Module``.

        Examples:
            >>> import torch
            >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2))
            >>> DependentModule.to_dependentmodule(net, recurse=False)
            DependentSequential(
              (0): Linear(in_features=2, out_features=2, bias=True)
            )
        """
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"to_dependentmodule expects a torch.nn.Module, got {type(module).__name__}"
            )
        targets = list(module.modules()) if recurse else [module]
        for target in targets:
            if not isinstance(target, DependentModule):
                target.__class__ = _dependent_class(type(target))
            assert isinstance(target, DependentModule)
            target._init_dependents()
        assert isinstance(module, DependentModule)
        return module

    @classmethod
    def stateless(
        cls, module: nn.Module, clear_filter: Callable[[nn.Module], bool] = _clear_all
    ) -> DependentModule:
        """Return a converted deep copy of ``module`` whose parameters are unset dependents.

        Shorthand for
        ``DependentModule(copy.deepcopy(module)).clear_params(init=False, clear_filter=...)``;
        ``module`` itself is left unchanged (as in MetaNN). The result holds no weights of its
        own (only their names and shapes; buffers such as BatchNorm statistics are copied) and
        must be given values with [`substitute`][meta_nn.DependentModule.substitute] or
        [`substitute_from_list`][meta_nn.DependentModule.substitute_from_list] before it is called.

        Args:
            module: The module to copy and convert; it is not modified.
            clear_filter: Called with each module of the tree; its parameters are cleared only
                if it returns ``True``.

        Returns:
            The converted, cleared copy.

        Examples:
            >>> import torch
            >>> template = DependentModule.stateless(torch.nn.Linear(3, 1))
            >>> list(template.dependents())
            [None, None]
            >>> template.substitute({"weight": torch.ones(1, 3), "bias": torch.zeros(1)})
            >>> template(torch.ones(2, 3))
            tensor([[3.],
                    [3.]])
        """
        if not isinstance(module, nn.Module):
            raise TypeError(f"stateless expects a torch.nn.Module, got {type(module).__name__}")
        template = cls.to_dependentmodule(copy.deepcopy(module))
        return template.clear_params(init=False, clear_filter=clear_filter)

    def clear_params(
        self, init: bool = False, clear_filter: Callable[[nn.Module], bool] = _clear_all
    ) -> DependentModule:
        """Turn the parameters of this module tree into dependents.

        Every non-``None`` parameter of every module accepted by ``clear_filter`` is removed
        from the module's parameters and registered as a dependent of the same name and
        shape. Submodules that are not yet dependent modules are converted first.

        With ``init=True`` each dependent holds the original ``nn.Parameter`` object itself,
        so the module computes exactly what it computed before, and gradients accumulate into
        those parameter objects (e.g. ones collected by ``list(net.parameters())`` earlier).
        Parameters tied between modules become separate dependents holding the same tensor.

        With ``init=False`` every dependent of the tree ends up unset, including dependents
        that were registered or substituted earlier (MetaNN: "set the values of dependents to
        None"); their names and shapes are kept.

        Args:
            init: Keep the parameter values (``True``) or unset every dependent (``None``,
                default).
            clear_filter: Called with each module of the tree; its parameters are cleared only
                if it returns ``True``. Default: every module.

        Returns:
            ``self``, for chaining.

        Examples:
            >>> import torch
            >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
            >>> _ = DependentModule(net).clear_params(init=True, clear_filter=lambda m: m is net[0])
            >>> [name for name, _ in net.named_parameters()]
            ['1.weight', '1.bias']
            >>> [name for name, _ in net.named_dependents()]
            ['0.weight', '0.bias']
        """
        for module in list(self.modules()):
            if not clear_filter(module):
                continue
            dependent = DependentModule.to_dependentmodule(module, recurse=False)
            for name, parameter in list(dependent._parameters.items()):
                if parameter is None:
                    continue
                del dependent._parameters[name]
                dependent.register_dependent(name, parameter if init else None)
                dependent._dependent_shapes[name] = parameter.shape
        if not init:
            for module in self._dependent_modules(recurse=True):
                for name in module._dependent_names:
                    module._buffers[name] = None
        self.update_actives()
        return self

    # ------------------------------------------------------------------ registration

    def register_dependent(self, name: str, tensor: Tensor | None) -> None:
        """Register ``tensor`` as a dependent of this module under ``name``.

        The dependent is readable as ``self.<name>``; its recorded shape (used to validate
        substitutions) is ``tensor.shape``, or unknown for ``None`` until
        [`update_shapes`][meta_nn.DependentModule.update_shapes]. Assigning
        ``self.<name> = other_tensor`` later replaces the value.

        Args:
            name: Attribute name; must not contain ``.`` nor name an existing parameter,
                submodule or other attribute. Re-registering an existing dependent replaces it.
            tensor: Any tensor (leaf or not), or ``None`` for an unset dependent.

        Raises:
            TypeError: If ``name`` is not a string or ``tensor`` is neither a tensor nor None.
            KeyError: If ``name`` is empty, contains ``.``, or is already used by something
                that is not a dependent.

        Examples:
            >>> import torch
            >>> dnet = DependentModule(torch.nn.Linear(2, 2))
            >>> dnet.register_dependent("some_tensor", torch.zeros(3, 3))
            >>> dnet.some_tensor.shape
            torch.Size([3, 3])
        """
        if not isinstance(name, str):
            raise TypeError(f"dependent name must be a string, got {type(name).__name__}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"dependent {name!r} must be a torch.Tensor or None, got {type(tensor).__name__}"
            )
        is_new = name not in self._dependent_names
        if is_new:
            if not name or "." in name:
                raise KeyError(f"dependent name must be non-empty and contain no '.', got {name!r}")
            if name in self._parameters:
                raise KeyError(
                    f"{name!r} is already a parameter of {type(self).__name__}; use "
                    f"clear_params() to turn parameters into dependents"
                )
            if hasattr(self, name):
                raise KeyError(
                    f"{name!r} is already an attribute of {type(self).__name__}; choose "
                    f"another dependent name"
                )
        self.register_buffer(name, tensor, persistent=False)
        if is_new:
            self._dependent_names.append(name)
        self._dependent_shapes[name] = None if tensor is None else tensor.shape

    def update_shapes(self) -> None:
        """Record the current shape of every set dependent in the tree as its expected shape.

        [`substitute`][meta_nn.DependentModule.substitute] rejects tensors whose shape differs from
        the recorded one. Call this after registering a dependent as ``None`` and assigning it a
        tensor by hand, or to accept new shapes on purpose.

        Examples:
            >>> import torch
            >>> dnet = DependentModule(torch.nn.Identity())
            >>> dnet.register_dependent("scale", torch.ones(2))
            >>> dnet.scale = torch.ones(3)
            >>> dnet.update_shapes()
            >>> dnet.substitute({"scale": torch.zeros(3)})  # accepted: (3,) is now expected
        """
        for module in self._dependent_modules(recurse=True):
            for name in module._dependent_names:
                value = module._buffers.get(name)
                if value is not None:
                    module._dependent_shapes[name] = value.shape

    def update_actives(self) -> None:
        """Re-synchronise the tree's bookkeeping with its current attributes.

        Forgets dependents that are no longer buffers (deleted, or replaced by assigning an
        ``nn.Parameter`` to the name) and points the cached weight lists of RNN/LSTM/GRU
        modules at the current dependents. [`clear_params`][meta_nn.DependentModule.clear_params]
        calls it (and [`substitute`][meta_nn.DependentModule.substitute] refreshes the RNN caches
        itself); call it yourself after assigning dependents by hand (``module.weight = tensor``).

        Examples:
            >>> import torch
            >>> lstm = DependentModule(torch.nn.LSTM(2, 3)).clear_params(init=True)
            >>> lstm.weight_ih_l0 = 2 * lstm.weight_ih_l0
            >>> lstm.update_actives()
            >>> lstm._flat_weights[0] is lstm.weight_ih_l0
            True
        """
        for module in self._dependent_modules(recurse=True):
            stale = [name for name in module._dependent_names if name not in module._buffers]
            for name in stale:
                module._dependent_names.remove(name)
                module._dependent_shapes.pop(name, None)
        refresh_rnn_weights(self)

    # ------------------------------------------------------------------ access

    def _dependent_modules(self, recurse: bool) -> Iterator[DependentModule]:
        for _, module in self._named_dependent_modules("", recurse):
            yield module

    def _named_dependent_modules(
        self, prefix: str, recurse: bool
    ) -> Iterator[tuple[str, DependentModule]]:
        modules = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for name, module in modules:
            if isinstance(module, DependentModule):
                yield name, module

    def named_dependents(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Tensor | None]]:
        """Iterate over ``(name, dependent)`` pairs of this module and, by default, its subtree.

        Names are qualified like parameter names (``"0.weight"``); the order is that of
        ``named_modules()`` and, within a module, of registration. Unset dependents yield
        ``None``. A module shared by two parents is visited once.

        Args:
            prefix: Prefix prepended to every name.
            recurse: Include submodules (default); otherwise only this module's own
                dependents, as ``nn.Module.named_parameters(recurse=False)`` does.

        Yields:
            ``(name, tensor_or_None)`` pairs.

        Examples:
            >>> import torch
            >>> net = DependentModule.stateless(torch.nn.Sequential(torch.nn.Linear(1, 1)))
            >>> list(net.named_dependents(prefix="net"))
            [('net.0.weight', None), ('net.0.bias', None)]
        """
        for module_name, module in self._named_dependent_modules(prefix, recurse):
            for name in module._dependent_names:
                yield (f"{module_name}.{name}" if module_name else name), module._buffers[name]

    def dependents(self, recurse: bool = True) -> Iterator[Tensor | None]:
        """Iterate over the dependents (values only) in ``named_dependents()`` order.

        Args:
            recurse: Include submodules (default); otherwise only this module's own.

        Yields:
            Each dependent tensor, or ``None`` for an unset one.

        Examples:
            >>> import torch
            >>> net = DependentModule(torch.nn.Linear(2, 1)).clear_params(init=True)
            >>> [tuple(t.shape) for t in net.dependents()]
            [(1, 2), (1,)]
        """
        for _, value in self.named_dependents(recurse=recurse):
            yield value

    # ------------------------------------------------------------------ substitution

    def substitute(
        self,
        named_params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]],
        strict: bool | Literal["one way"] = True,
    ) -> None:
        """Set dependents, by qualified name, to the given tensors (in place).

        The tensors are stored as they are (no copy, graph kept), so a loss computed with the
        module back-propagates into them and whatever they were computed from.

        Args:
            named_params: A mapping, or an iterable of ``(name, tensor)`` pairs, with names as
                yielded by [`named_dependents`][meta_nn.DependentModule.named_dependents].
            strict: MetaNN's three modes. ``True`` (default): the names must be exactly the
                names of all dependents. ``"one way"``: names that are not dependents are
                ignored and dependents that are not named keep their values. ``False``: as
                ``"one way"``, and a tensor whose shape differs from its dependent's is skipped
                instead of raising.

        Raises:
            TypeError: If a value is not a tensor.
            KeyError: With ``strict=True``, if names are missing or are not dependents.
            ValueError: If a tensor's shape differs from the dependent's recorded shape (not
                with ``strict=False``), or ``strict`` is none of the three modes.

        Examples:
            >>> import torch
            >>> net = DependentModule.stateless(torch.nn.Linear(2, 1))
            >>> net.substitute([("weight", torch.ones(1, 2)), ("bias", torch.ones(1))])
            >>> net(torch.ones(1, 2))
            tensor([[3.]])
        """
        if strict not in (True, False, "one way") or not isinstance(strict, bool | str):
            raise ValueError(f"strict must be True, False or 'one way', got {strict!r}")
        pairs = list(named_params.items() if isinstance(named_params, Mapping) else named_params)
        slots = self._dependent_slots()
        if strict is True:
            given = dict.fromkeys(name for name, _ in pairs)
            unknown = [name for name in given if name not in slots]
            missing = [name for name in slots if name not in given]
            if unknown or missing:
                raise KeyError(
                    f"substitute(strict=True) needs exactly the dependents of "
                    f"{type(self).__name__}: "
                    f"{describe_mismatch(missing, unknown, extra_label='not dependents')}; "
                    f"expected {describe_names(slots)}"
                )
        checked: list[tuple[DependentModule, str, Tensor]] = []
        for name, tensor in pairs:
            if name not in slots:
                continue
            module, attribute = slots[name]
            if not isinstance(tensor, Tensor):
                raise TypeError(
                    f"substitute got {type(tensor).__name__} for dependent {name!r}; "
                    f"expected a torch.Tensor"
                )
            expected = module._dependent_shapes.get(attribute)
            if expected is not None and tensor.shape != expected:
                if strict is False:
                    continue
                raise ValueError(
                    f"substitute got shape {tuple(tensor.shape)} for dependent {name!r}; "
                    f"expected {tuple(expected)}"
                )
            checked.append((module, attribute, tensor))
        for module, attribute, tensor in checked:
            module._buffers[attribute] = tensor
        refresh_rnn_weights(self)

    def substitute_from_list(self, params: Iterable[Tensor]) -> None:
        """Set all dependents, in ``named_dependents()`` order, to the given tensors.

        Args:
            params: One tensor per dependent, in order (e.g. adapted versions of
                ``list(module.dependents())``).

        Raises:
            ValueError: If the number of tensors differs from the number of dependents, or
                for a shape mismatch (see [`substitute`][meta_nn.DependentModule.substitute]).
            TypeError: If an entry is not a tensor.

        Examples:
            >>> import torch
            >>> net = DependentModule(torch.nn.Linear(2, 1)).clear_params(init=True)
            >>> net.substitute_from_list([torch.zeros(1, 2), torch.full((1,), 4.0)])
            >>> net(torch.ones(1, 2))
            tensor([[4.]])
        """
        tensors = list(params)
        names = list(self._dependent_slots())
        if len(tensors) != len(names):
            raise ValueError(
                f"substitute_from_list got {len(tensors)} tensors for the {len(names)} "
                f"dependents of {type(self).__name__} {describe_names(names)}; expected one "
                f"tensor per dependent, in named_dependents() order"
            )
        self.substitute(list(zip(names, tensors, strict=True)))

    def _dependent_slots(self) -> dict[str, tuple[DependentModule, str]]:
        slots: dict[str, tuple[DependentModule, str]] = {}
        for module_name, module in self._named_dependent_modules("", recurse=True):
            for name in module._dependent_names:
                slots[f"{module_name}.{name}" if module_name else name] = (module, name)
        return slots


def _dependent_class(base: type[nn.Module]) -> type[DependentModule]:
    """Return (and cache) the generated ``Dependent<Name>`` subclass of ``base``."""
    generated = _DEPENDENT_CLASSES.get(base)
    if generated is None:
        generated = type(
            f"Dependent{base.__name__}",
            (DependentModule, base),
            {"__module__": __name__, "__doc__": f"``{base.__name__}`` with dependents."},
        )
        _DEPENDENT_CLASSES[base] = generated
    return generated
