"""MetaNN's episodic API (``metann.meta``): thin shells over the meta-* core.

The functional path (``forward_pure``, which ``MAML`` and ``MAMLpp`` use) is
[`adapt_trajectory`][meta_functional.adapt_trajectory]: plain gradient descent runs its
[`sgd_update`][meta_functional.sgd_update]; momentum and RMSprop are meta-optim
``GradientTransformation`` updates passed as its ``update``. The model runs as MetaNN ran it,
through MetaNN's ``ProtoModule`` (a stateless [`DependentModule`][meta_nn.DependentModule]
copy). The in-place path (``inplace=True``) trains the module with the ``torch.optim``
optimizer MetaNN trains it with. What is left here is MetaNN's vocabulary: its evaluators,
``data`` passed through to them, step counts by training mode and the MAML++ step weights.
The public documentation lives in ``meta_all.compat.metann.meta``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import meta_nn
import torch
from meta_functional import UpdateRule, adapt_trajectory, named_params
from meta_functional.checks import (
    check_finite_rate,
    check_module,
    check_non_negative_int,
    check_scalar_loss,
)
from meta_nn import DependentModule, MultipleList
from meta_optim import GradientTransformation, apply_updates, rmsprop, sgd
from torch import Tensor, nn

from ._proto import ProtoModule
from .utils.numpy import _import_numpy

#: A model as seen by an evaluator: a callable from an input batch to outputs.
ModelFn = Callable[[Any], Any]

#: An evaluator: ``evaluator(model, data) -> loss``.
Evaluator = Callable[[ModelFn, Any], Tensor]

#: One set of fast weights: tensors in ``parameters()`` order, or ``name -> tensor``.
FastWeights = Mapping[str, Tensor] | Iterable[Tensor]

_Role = Literal["support", "query"]
_TASK_ATTRIBUTES = ("support_x", "support_y", "query_x", "query_y")
_DATA_FORMS = (
    "an (x, y) pair, a ((support_x, support_y), (query_x, query_y)) episode, or an object "
    "with support_x/support_y/query_x/query_y attributes"
)


# --------------------------------------------------------------------------------------------
# data handling: MetaNN hands ``data`` to the evaluator unchanged; only the default evaluator
# reads it, and it also understands episodes and tasks


def _is_pair(obj: object) -> bool:
    return isinstance(obj, tuple | list) and len(obj) == 2


def _is_task(obj: object) -> bool:
    return all(hasattr(obj, name) for name in _TASK_ATTRIBUTES)


def _split_of(data: Any, role: _Role) -> Any:
    """The ``(x, y)`` split of ``role`` of an episode or a task; any other ``data`` as is."""
    if _is_task(data):
        return getattr(data, f"{role}_x"), getattr(data, f"{role}_y")
    if _is_pair(data) and _is_pair(data[0]) and _is_pair(data[1]):
        chosen = data[0] if role == "support" else data[1]
        return chosen[0], chosen[1]
    return data


def _adaptation_data(data: Any, evaluator: Evaluator) -> Any:
    """What the evaluator gets for an inner step.

    ``data`` itself, or with the default evaluator the support split of an episode or task
    (which MetaNN's default evaluator cannot read).
    """
    if evaluator is default_evaluator_classification:
        return _split_of(data, "support")
    return data


def _check_evaluator(evaluator: Evaluator) -> Evaluator:
    if not callable(evaluator):
        raise TypeError(f"evaluator must be callable, got {type(evaluator).__name__}")
    return evaluator


# --------------------------------------------------------------------------------------------
# evaluators and helpers

_CROSS_ENTROPY = nn.CrossEntropyLoss()


def default_evaluator_classification(
    model: ModelFn, data: Any, criterion: Callable[[Any, Any], Tensor] = _CROSS_ENTROPY
) -> Tensor:
    """Classification loss of ``model`` on ``data``: ``criterion(model(x), y)``.

    Args:
        model: A callable from inputs to logits: a module, an adapted model returned by a
            learner or ``MAML``, or ``ProtoModule.functional(...)``.
        data: An ``(x, y)`` pair; or an episode ``((support_x, support_y), (query_x,
            query_y))`` or a task object, whose *query* pair is used (see
            ``meta_all.compat.metann.meta``).
        criterion: Loss from ``(model(x), y)``; defaults to ``torch.nn.CrossEntropyLoss()``
            (mean over the batch). Its result is returned as it is (a criterion with
            ``reduction="none"`` gives per-sample losses).

    Returns:
        ``criterion(model(x), y)``.

    Raises:
        TypeError: If ``data`` cannot be read as an ``(x, y)`` pair.
        ValueError: If ``data`` is a tuple or list whose length is not 2.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> default_evaluator_classification(net, (x, y)).shape
        torch.Size([])
    """
    split = _split_of(data, "query")
    if isinstance(split, tuple | list) and len(split) != 2:
        raise ValueError(
            f"data must be {_DATA_FORMS}; got a {type(split).__name__} of length {len(split)}"
        )
    try:
        x, y = split
    except (TypeError, ValueError):
        raise TypeError(f"data must be {_DATA_FORMS}; got {type(data).__name__}") from None
    return criterion(model(x), y)


def active_indices(lst: Iterable[object]) -> list[int]:
    """Return the indices of the entries of ``lst`` that are tensors, in order.

    MetaNN's learners adapt exactly these entries of a weight list.

    Args:
        lst: Any iterable.

    Returns:
        The list of ``i`` for which ``lst[i]`` is a ``torch.Tensor``.

    Examples:
        >>> import torch
        >>> active_indices([torch.zeros(1), None, 3.0, torch.ones(2)])
        [0, 3]
    """
    return [index for index, entry in enumerate(lst) if isinstance(entry, Tensor)]


def is_tensor(lst: Any) -> Any:
    """MetaNN's ``numpy.vectorize(lambda x: isinstance(x, torch.Tensor))``, applied to ``lst``.

    Args:
        lst: Whatever ``numpy.vectorize`` accepts (it converts ``lst`` to an array first).

    Returns:
        A NumPy array of booleans (a NumPy bool for a single value).

    Raises:
        ImportError: If NumPy is not installed.

    Examples:
        >>> bool(is_tensor(3.0))
        False
    """
    numpy = _import_numpy("is_tensor")
    return numpy.vectorize(lambda entry: isinstance(entry, Tensor))(lst)


def _prototype(model: nn.Module) -> tuple[ProtoModule, dict[str, Tensor]]:
    """MetaNN's ``ProtoModule(model).train()``: a fresh stateless copy, and the start weights.

    As in MetaNN, ``model`` is left in training mode.
    """
    module = model.module if isinstance(model, meta_nn.ProtoModule) else model
    proto = ProtoModule(check_module(module, "model"))
    proto.train()
    model.train()
    return proto, named_params(proto)


def _weight_list(weights: Mapping[str, Tensor]) -> MultipleList[Tensor]:
    return MultipleList(list(weights.values()))


class MultiModel(nn.Module):
    """One architecture at several sets of fast weights (MetaNN's ``MultiModel``).

    ``mimo[i]`` is ``proto.functional(params_lst[i])``: MetaNN's stateless module holding
    weights ``i`` (the same module object for every ``i``, so call it before indexing again).
    ``MAMLpp`` and ``forward_pure(..., mimo=True)`` return one holding the initial weights
    followed by the weights after each inner step.

    Args:
        model: The architecture: a ``ProtoModule`` (a plain module is wrapped in one).
        fast_weight_lst: The sets of fast weights, each a list of tensors in
            ``parameters()`` order (as MetaNN's ``tensor_copy`` makes them) or a mapping
            ``name -> tensor``; kept as given, as ``params_lst``.

    Raises:
        TypeError: If ``fast_weight_lst`` is not a sequence of such weights, or ``model`` is
            not a module.

    Examples:
        >>> import torch
        >>> from meta_all.compat.metann import ProtoModule, tensor_copy
        >>> proto = ProtoModule(torch.nn.Linear(2, 1))
        >>> params = list(proto.parameters())
        >>> mimo = MultiModel(proto, [params, tensor_copy(params)])
        >>> len(mimo), [tuple(out.shape) for out in mimo(torch.ones(3, 2))]
        (2, [(3, 1), (3, 1)])
    """

    def __init__(self, model: nn.Module, fast_weight_lst: Sequence[FastWeights]) -> None:
        super().__init__()
        if isinstance(fast_weight_lst, Mapping | str) or not isinstance(fast_weight_lst, Sequence):
            raise TypeError(
                f"fast_weight_lst must be a sequence of weight lists or name -> tensor "
                f"mappings, got {type(fast_weight_lst).__name__}"
            )
        for index, weights in enumerate(fast_weight_lst):
            if isinstance(weights, str | Tensor) or not isinstance(weights, Mapping | Iterable):
                raise TypeError(
                    f"fast_weight_lst[{index}] must be a name -> tensor mapping or a list of "
                    f"tensors, got {type(weights).__name__}"
                )
        self.proto: meta_nn.ProtoModule = (
            model
            if isinstance(model, meta_nn.ProtoModule)
            else ProtoModule(check_module(model, "model"))
        )
        self.params_lst = fast_weight_lst

    def __len__(self) -> int:
        return len(self.params_lst)

    def __getitem__(self, item: int) -> ModelFn:
        """Return the model at weights ``item``: ``proto.functional(params_lst[item])``."""
        return self.proto.functional(self.params_lst[item])

    def __iter__(self) -> Iterator[ModelFn]:
        """Iterate over the models at each set of weights, in order."""
        return (self[index] for index in range(len(self)))

    def forward(self, x: Any) -> list[Any]:
        """Run the architecture at every set of weights (MetaNN's raises NotImplementedError).

        Args:
            x: Input batch.

        Returns:
            One output per set of weights, in order.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(2, 1)
            >>> ones = [torch.ones_like(p) for p in net.parameters()]
            >>> MultiModel(net, [ones, ones])(torch.ones(1, 2))
            [tensor([[3.]]), tensor([[3.]])]
        """
        return [self[index](x) for index in range(len(self))]


def mamlpp_evaluator(
    mimo: MultiModel | Sequence[ModelFn],
    data: Any,
    steps: int,
    evaluator: Evaluator,
    gamma: float = 0.6,
) -> tuple[Tensor, Tensor]:
    """MAML++ multi-step loss over the first ``steps + 1`` models of ``mimo``, as in MetaNN.

    With ``L_i = evaluator(mimo[i], data)`` for ``i = 0, ..., steps`` (``mimo[0]``: the
    initial weights), the total is ``sum_i gamma ** (steps - i) * L_i`` (not normalised: the
    last step has weight 1, each earlier one ``gamma`` times the next).

    Args:
        mimo: The models, e.g. from ``MAMLpp`` or ``forward_pure(..., mimo=True)``
            (``steps + 1`` of them are used).
        data: Data for ``evaluator`` (the query split of an episode or task with the default
            evaluator).
        steps: Inner steps to weigh, ``0 <= steps < len(mimo)``.
        evaluator: ``evaluator(model, data) -> loss``.
        gamma: Decay towards earlier steps.

    Returns:
        ``(weighted_total, last_step_loss)``.

    Raises:
        TypeError: If ``mimo`` is not a MultiModel or a sequence of models.
        ValueError: If ``steps`` is out of range or ``gamma`` is not a finite number.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> mimo = GDLearner(3, 0.1)(net, (x, y), mimo=True)
        >>> total, last = mamlpp_evaluator(mimo, (x, y), 3, default_evaluator_classification)
        >>> total.backward()
    """
    if isinstance(mimo, Mapping | str) or not isinstance(mimo, MultiModel | Sequence):
        raise TypeError(f"mimo must be a MultiModel or a sequence of models, got {type(mimo)}")
    check_non_negative_int(steps, "steps")
    if steps >= len(mimo):
        raise ValueError(
            f"steps={steps} needs steps + 1 = {steps + 1} models (the initial weights and one "
            f"per step), but mimo holds {len(mimo)}"
        )
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not math.isfinite(gamma):
        raise ValueError(f"gamma must be a finite real number, got {gamma!r}")
    _check_evaluator(evaluator)
    weights = [gamma**index for index in range(steps + 1)][::-1]
    losses = [evaluator(mimo[index], data) for index in range(steps + 1)]
    total = losses[0] * weights[0]
    for loss, weight in zip(losses[1:], weights[1:], strict=True):
        total = total + loss * weight
    return total, losses[-1]


# --------------------------------------------------------------------------------------------
# learners


def _optimizer_update(optimizer: GradientTransformation[Any]) -> UpdateRule:
    """``optimizer`` as an ``adapt_trajectory`` update rule, its state kept in the closure."""
    state: list[Any] = []

    def update(params: dict[str, Tensor], grads: dict[str, Tensor], step: int) -> dict[str, Tensor]:
        adapted = {name: params[name] for name in grads}
        if not state:
            state.append(optimizer.init(adapted))
        updates, state[0] = optimizer.update(grads, state[0], adapted)
        return apply_updates(params, updates)

    return update


class Learner(nn.Module):
    """MetaNN's learner base: ``learner(model, data, inplace=False, **kwargs)``.

    ``forward`` dispatches to ``forward_pure`` (adapt functionally, leave ``model``'s weights
    alone, return the adapted model) or ``forward_inplace`` (train ``model`` itself). As in
    MetaNN, ``Learner()`` is an abstract base for your own learners: subclass it and override
    ``forward_pure`` (and ``forward_inplace`` for in-place training); calling a method that is
    left abstract raises a ``TypeError`` that names the class and the method to override
    (MetaNN raises a bare ``NotImplementedError``). Given a meta-optim ``optimizer`` it is a
    working functional learner too (an extension): its inner steps are that optimizer's.

    The concrete learners read their hyperparameters (``lr``, ``momentum``, ``steps``, ...)
    at every call, so changing them between calls takes effect, as in MetaNN.

    Args:
        optimizer: A meta-optim functional optimizer such as ``meta_optim.adam(0.01)``, or
            ``None`` for MetaNN's abstract base.
        steps: ``None``: ``data`` is a sequence of batches, one step per batch. An int
            ``K >= 0``: ``K`` steps on ``data``.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, batch) -> scalar loss``.

    Raises:
        TypeError: If ``optimizer`` is not a GradientTransformation or ``evaluator`` is not
            callable.
        ValueError: If ``steps`` is negative.

    Examples:
        >>> import torch, meta_optim
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> len(Learner(meta_optim.adam(0.01), steps=3).fast_weights(net, (x, y)))
        3
        >>> class Twice(Learner):
        ...     def forward_pure(self, model, data):
        ...         return lambda inputs: 2 * model(inputs)
        >>> Twice()(net, None)(x).shape
        torch.Size([6, 3])
        >>> Twice()(net, (x, y), inplace=True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        TypeError: Twice has no in-place training for a plain module: override forward_inplace...
    """

    def __init__(
        self,
        optimizer: GradientTransformation[Any] | None = None,
        steps: int | None = None,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
    ) -> None:
        super().__init__()
        if optimizer is not None and not isinstance(optimizer, GradientTransformation):
            raise TypeError(
                f"optimizer must be a meta_optim.GradientTransformation (e.g. "
                f"meta_optim.sgd(0.1)) or None, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.steps = None if steps is None else check_non_negative_int(steps, "steps")
        self.create_graph = create_graph
        self.evaluator = _check_evaluator(evaluator)

    # ---------------------------------------------------------------- what subclasses choose

    def _update_rule(self) -> tuple[float, UpdateRule | None]:
        """``(lr, update)`` for ``adapt_trajectory``: here the meta-optim optimizer's step."""
        if self.optimizer is None:
            raise TypeError(
                f"{type(self).__name__} has no inner update: MetaNN's Learner is an abstract "
                f"base, so override forward_pure, or pass a meta_optim optimizer "
                f"(Learner(meta_optim.sgd(0.1), steps=1))"
            )
        return 0.0, _optimizer_update(self.optimizer)

    def _torch_optimizer(self, params: Iterator[nn.Parameter]) -> torch.optim.Optimizer:
        """The ``torch.optim`` optimizer that trains a module in place."""
        raise TypeError(
            f"{type(self).__name__} has no in-place training for a plain module: override "
            f"forward_inplace, or adapt functionally (inplace=False)"
        )

    # ---------------------------------------------------------------- the shared machinery

    def _batches(self, data: Any, evaluator: Evaluator) -> list[Any]:
        """The data of each inner step: ``data`` ``steps`` times, or one step per batch."""
        if self.steps is not None:
            return [_adaptation_data(data, evaluator)] * self.steps
        single = _is_task(data) or (_is_pair(data) and not _is_pair(data[0]))
        if evaluator is default_evaluator_classification and single:
            return [_split_of(data, "support")]  # one (x, y) split or task: one batch
        if isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise TypeError(
                f"data must be an iterable of batches (one inner step per batch); got "
                f"{type(data).__name__}"
            )
        return [_adaptation_data(batch, evaluator) for batch in data]

    def _trajectory(
        self,
        model_at: Callable[[Mapping[str, Tensor]], ModelFn],
        start: dict[str, Tensor],
        data: Any,
        evaluator: Evaluator | None,
    ) -> list[dict[str, Tensor]]:
        """The fast weights after each step of the one inner loop."""
        evaluate = self.evaluator if evaluator is None else _check_evaluator(evaluator)
        batches = self._batches(data, evaluate)
        if batches and not any(tensor.requires_grad for tensor in start.values()):
            raise ValueError(
                f"none of the model's parameters {sorted(start)} requires grad; nothing to adapt"
            )

        def support_loss(batch: Any) -> Callable[[dict[str, Tensor]], Tensor]:
            def loss(params: dict[str, Tensor]) -> Tensor:
                value = check_scalar_loss(evaluate(model_at(params), batch), "the evaluator's loss")
                if not value.requires_grad:
                    raise ValueError(
                        "the evaluator's loss does not depend on the model's parameters; it must "
                        "be computed from model(x)"
                    )
                return value

            return loss

        lr, update = self._update_rule()
        return adapt_trajectory(
            start,
            [support_loss(batch) for batch in batches],
            lr=lr,
            first_order=not self.create_graph,
            update=update,
        )

    def _adapt(
        self, model: nn.Module, data: Any, evaluator: Evaluator | None
    ) -> tuple[ProtoModule, dict[str, Tensor], list[dict[str, Tensor]]]:
        """MetaNN's functional adaptation: the prototype, its start weights and the trajectory."""
        proto, start = _prototype(model)
        return proto, start, self._trajectory(proto.functional, start, data, evaluator)

    # ---------------------------------------------------------------- MetaNN's API

    def forward(self, *args: Any, inplace: bool = False, **kwargs: Any) -> Any:
        """Dispatch to ``forward_inplace`` (``inplace=True``) or ``forward_pure``.

        Args:
            *args: ``model, data``.
            inplace: Train ``model`` itself instead of returning an adapted model.
            **kwargs: Passed on (``evaluator``; ``mimo`` for the functional path).

        Returns:
            What the chosen method returns.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> GDLearner(steps=1, lr=0.1)(net, (x, y), inplace=True) is net
            True
        """
        if inplace:
            return self.forward_inplace(*args, **kwargs)
        return self.forward_pure(*args, **kwargs)

    def fast_weights(
        self, model: nn.Module, data: Any, evaluator: Evaluator | None = None
    ) -> list[dict[str, Tensor]]:
        """Adapt functionally and return the weights after every step (an extension).

        Args:
            model: The module to adapt; its parameters are the starting point.
            data: The data of the inner steps (see the class docstring).
            evaluator: Overrides the learner's evaluator for this call.

        Returns:
            One ``name -> tensor`` mapping per step (an empty list for zero steps).

        Raises:
            TypeError: If ``model`` is not a module or ``data`` is not iterable where batches
                are expected.
            ValueError: If the loss is not a scalar or does not depend on the parameters.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> weights = GDLearner(steps=2, lr=0.1).fast_weights(net, (x, y))
            >>> len(weights), sorted(weights[-1])
            (2, ['bias', 'weight'])
        """
        return self._adapt(model, data, evaluator)[2]

    def forward_pure(
        self,
        model: nn.Module,
        data: Any,
        evaluator: Evaluator | None = None,
        mimo: bool = False,
    ) -> Any:
        """Adapt functionally, as MetaNN: ``model``'s weights and buffers are left alone.

        ``model`` is copied into MetaNN's ``ProtoModule`` and set to training mode; the
        inner steps run the copy in training mode (its BatchNorm statistics stay in the copy).

        Args:
            model: The module to adapt.
            data: The data of the inner steps (see the class docstring).
            evaluator: Overrides the learner's evaluator for this call.
            mimo: Return a ``MultiModel`` of the initial weights and the weights after every
                step (``steps + 1`` of them) instead of the adapted model.

        Returns:
            The adapted model (MetaNN's stateless module holding the adapted weights, whose
            graph reaches ``model``'s parameters), or a ``MultiModel`` if ``mimo``.

        Raises:
            TypeError: As ``fast_weights``, which runs the same adaptation.
            ValueError: As ``fast_weights``.

        Examples:
            >>> import torch
            >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> models = GDLearner(2, 0.1).forward_pure(torch.nn.Linear(4, 3), support, mimo=True)
            >>> [tuple(model(support[0]).shape) for model in models]
            [(6, 3), (6, 3), (6, 3)]
        """
        proto, start, trajectory = self._adapt(model, data, evaluator)
        if mimo:
            return MultiModel(proto, [_weight_list(w) for w in [start, *trajectory]])
        return proto.functional(trajectory[-1] if trajectory else start)

    def forward_inplace(
        self, model: nn.Module, data: Any, evaluator: Evaluator | None = None
    ) -> nn.Module:
        """Train ``model`` itself and return it.

        As in MetaNN: for each batch, ``zero_grad``, ``evaluator(model, batch).backward()``
        and a step of the learner's ``torch.optim`` optimizer (``SGD`` with its momentum, or
        ``RMSprop``); ``model`` keeps its mode and the last batch's ``.grad``.

        A [`DependentModule`][meta_nn.DependentModule] without parameters but with dependents
        (``clear_params(init=True)``) is adapted differentiably instead (an extension; MetaNN's
        optimizer would find no parameters): each step substitutes the new fast weights, which
        keep their graph, so a loss of the returned module reaches what the dependents were
        computed from.

        Args:
            model: The module to train.
            data: The data of the inner steps (see the class docstring).
            evaluator: Overrides the learner's evaluator for this call.

        Returns:
            ``model`` itself.

        Raises:
            TypeError: If ``model`` is not a module.
            ValueError: For a DependentModule with unset dependents.

        Examples:
            >>> import copy, torch
            >>> from meta_nn import DependentModule
            >>> net = torch.nn.Linear(4, 3)
            >>> model = DependentModule(copy.deepcopy(net)).clear_params(init=True)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> adapted = GDLearner(steps=2, lr=0.1).forward_inplace(model, (x, y))
            >>> adapted is model, model.weight.grad_fn is not None
            (True, True)
        """
        check_module(model, "model")
        evaluate = self.evaluator if evaluator is None else _check_evaluator(evaluator)
        if (
            isinstance(model, DependentModule)
            and next(model.parameters(), None) is None
            and next(model.named_dependents(), None) is not None
        ):
            return self._adapt_dependents(model, data, evaluate)
        optimizer = self._torch_optimizer(model.parameters())
        for batch in self._batches(data, evaluate):
            optimizer.zero_grad()
            loss = check_scalar_loss(evaluate(model, batch), "the evaluator's loss")
            torch.autograd.backward(loss)
            optimizer.step()
        return model

    def _adapt_dependents(
        self, model: DependentModule, data: Any, evaluator: Evaluator
    ) -> DependentModule:
        start: dict[str, Tensor] = {}
        unset: list[str] = []
        for name, tensor in model.named_dependents():
            if tensor is None:
                unset.append(name)
            else:
                start[name] = tensor
        if unset:
            raise ValueError(
                f"{type(model).__name__} has unset dependents {sorted(unset)}; give them values "
                f"(clear_params(init=True) or substitute(...)) before adapting"
            )

        def substituted(weights: Mapping[str, Tensor]) -> ModelFn:
            model.substitute(weights.items())
            return model

        trajectory = self._trajectory(substituted, start, data, evaluator)
        substituted(trajectory[-1] if trajectory else start)
        return model


class SequentialGDLearner(Learner):
    """One step of SGD with momentum per batch: ``v = g + momentum * v; w = w - lr * v``.

    ``data`` is an iterable of batches; the velocity carries over from batch to batch. The
    functional step is [`sgd_update`][meta_functional.sgd_update] without momentum and
    ``meta_optim.sgd(lr, momentum)`` with it; in place it is ``torch.optim.SGD``.

    Args:
        lr: Learning rate, ``>= 0``.
        momentum: Momentum factor, ``>= 0``.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, batch) -> scalar loss``.

    Raises:
        TypeError: If ``lr`` or ``momentum`` is not a number.
        ValueError: If ``lr`` or ``momentum`` is negative or not finite.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> batches = [(torch.randn(6, 4), torch.randint(0, 3, (6,))) for _ in range(2)]
        >>> len(SequentialGDLearner(lr=0.1)(net, batches, mimo=True))
        3
    """

    def __init__(
        self,
        lr: float,
        momentum: float = 0.5,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
    ) -> None:
        super().__init__(create_graph=create_graph, evaluator=evaluator)
        self.lr = check_finite_rate(lr, "lr")
        self.momentum = check_finite_rate(momentum, "momentum")

    def _update_rule(self) -> tuple[float, UpdateRule | None]:
        if self.momentum == 0:
            return self.lr, None
        return 0.0, _optimizer_update(sgd(self.lr, momentum=self.momentum))

    def _torch_optimizer(self, params: Iterator[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)


class GDLearner(SequentialGDLearner):
    """``steps`` steps of plain gradient descent on ``data``: ``w = w - lr * g``.

    MetaNN's ``GDLearner`` is ``SequentialGDLearner(lr, momentum=0)`` over ``[data] * steps``;
    so is this one (it keeps ``lr``, ``create_graph`` and ``evaluator`` itself, where MetaNN
    keeps them on that inner learner, ``learner.sgd``). The functional step is
    [`sgd_update`][meta_functional.sgd_update].

    Args:
        steps: Number of inner steps, ``>= 0``.
        lr: Inner learning rate, ``>= 0``.
        create_graph: ``True``: second-order meta-gradients (MAML); ``False``: first order.
        evaluator: ``evaluator(model, data) -> scalar loss``.

    Raises:
        TypeError: If ``lr`` is not a number or ``evaluator`` is not callable.
        ValueError: If ``steps`` is not an int ``>= 0``, or ``lr`` is negative or not finite.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> adapted = GDLearner(steps=5, lr=0.01)(net, (x, y))
        >>> default_evaluator_classification(adapted, (x, y)).backward()
        >>> net.weight.grad is not None
        True
    """

    def __init__(
        self,
        steps: int,
        lr: float,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
    ) -> None:
        super().__init__(lr, momentum=0, create_graph=create_graph, evaluator=evaluator)
        self.steps = check_non_negative_int(steps, "steps")

    # MetaNN's GDLearner.forward names model and data and takes inplace by position, unlike
    # its base's forward(*args, inplace=False, **kwargs): the same narrowing here.
    def forward(  # type: ignore[override]
        self, model: nn.Module, data: Any, inplace: bool = False, **kwargs: Any
    ) -> Any:
        """Adapt ``model`` to ``data``: MetaNN's ``GDLearner`` takes ``inplace`` by position too.

        Args:
            model: The module to adapt.
            data: The data of every step.
            inplace: Train ``model`` itself instead of returning an adapted model.
            **kwargs: Passed on (``evaluator``; ``mimo`` for the functional path).

        Returns:
            What ``forward_inplace`` or ``forward_pure`` returns.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> GDLearner(steps=1, lr=0.1)(net, (x, y), True) is net
            True
        """
        return super().forward(model, data, inplace=inplace, **kwargs)


class RMSPropLearner(Learner):
    """RMSprop steps (plain or centered): ``meta_optim.rmsprop``, in place ``torch.optim.RMSprop``.

    Args:
        lr: Learning rate, ``>= 0``.
        alpha: Smoothing constant of the squared-gradient average.
        eps: Added to the denominator.
        centered: Normalise by the variance estimate instead of the second moment.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, batch) -> scalar loss``.
        steps: ``None`` (default): ``data`` is an iterable of batches, one step per batch. An
            int: that many steps on ``data``.

    Raises:
        TypeError: If ``lr`` is not a number or ``evaluator`` is not callable.
        ValueError: If ``lr`` is negative or not finite, or ``steps`` is neither ``None`` nor
            an int ``>= 0``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> len(RMSPropLearner(lr=0.01, steps=3).fast_weights(net, (x, y)))
        3
    """

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        centered: bool = False,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
        steps: int | None = None,
    ) -> None:
        super().__init__(steps=steps, create_graph=create_graph, evaluator=evaluator)
        self.lr = check_finite_rate(lr, "lr")
        self.alpha = alpha
        self.eps = eps
        self.centered = centered

    def _update_rule(self) -> tuple[float, UpdateRule | None]:
        optimizer = rmsprop(self.lr, alpha=self.alpha, eps=self.eps, centered=self.centered)
        return 0.0, _optimizer_update(optimizer)

    def _torch_optimizer(self, params: Iterator[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(
            params, lr=self.lr, alpha=self.alpha, eps=self.eps, centered=self.centered
        )


# --------------------------------------------------------------------------------------------
# MAML and MAML++


class MAML(nn.Module):
    """MetaNN's MAML: adapts ``model`` to ``data`` with ``GDLearner`` and returns the result.

    ``maml(data)`` takes ``steps_train`` gradient steps when the module is in training mode
    and ``steps_eval`` in eval mode (MetaNN documents that but always took ``steps_train``),
    and returns the adapted model. Score it with the evaluator and call ``backward()``: the
    meta-gradient lands in ``maml.parameters()`` (the wrapped model's). This is not
    [`meta_algos.MAML`][meta_algos.MAML]; new code should prefer that one.

    Args:
        model: The network to meta-learn; registered as the submodule ``model``.
        steps_train: Inner steps in training mode, ``>= 0``.
        steps_eval: Inner steps in eval mode, ``>= 0``.
        lr: Inner learning rate, ``>= 0``.
        evaluator: ``evaluator(model, data) -> scalar loss`` of the inner steps.
        first_order: Drop second-order terms (FOMAML); the default keeps them.

    Raises:
        TypeError: If ``model`` is not a module, ``lr`` is not a number or ``evaluator`` is not
            callable.
        ValueError: If a step count is not an int ``>= 0``, or ``lr`` is negative or not finite.

    Examples:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5))
        >>> maml = MAML(net, steps_train=5, steps_eval=10, lr=0.01)
        >>> data_train = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
        >>> data_test = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
        >>> output = maml(data_train)
        >>> loss = default_evaluator_classification(output, data_test)
        >>> loss.backward()
    """

    def __init__(
        self,
        model: nn.Module,
        steps_train: int,
        steps_eval: int,
        lr: float,
        evaluator: Evaluator = default_evaluator_classification,
        first_order: bool = False,
    ) -> None:
        super().__init__()
        self.model = check_module(model, "model")
        self.steps_train = check_non_negative_int(steps_train, "steps_train")
        self.steps_eval = check_non_negative_int(steps_eval, "steps_eval")
        self.lr = check_finite_rate(lr, "lr")
        self.evaluator = _check_evaluator(evaluator)
        self.first_order = first_order

    @property
    def steps(self) -> int:
        """Inner steps for the current mode: ``steps_train`` if training, else ``steps_eval``.

        Examples:
            >>> import torch
            >>> maml = MAML(torch.nn.Linear(2, 2), steps_train=1, steps_eval=5, lr=0.1)
            >>> maml.steps, maml.eval().steps
            (1, 5)
        """
        return self.steps_train if self.training else self.steps_eval

    def learner(self) -> GDLearner:
        """Return the ``GDLearner`` of the current mode (MetaNN builds it on every call).

        Returns:
            ``GDLearner(self.steps, lr, create_graph=not first_order)``; the evaluator is
            passed per call.

        Examples:
            >>> import torch
            >>> maml = MAML(torch.nn.Linear(2, 2), steps_train=1, steps_eval=5, lr=0.1)
            >>> maml.learner().steps
            1
        """
        return GDLearner(self.steps, self.lr, create_graph=not self.first_order)

    def forward(self, data: Any) -> Any:
        """Adapt to ``data`` and return the adapted model.

        Args:
            data: The data of the inner steps: an ``(x, y)`` split for the default evaluator
                (or an episode or task, whose support split is used), anything your evaluator
                reads otherwise.

        Returns:
            The adapted model (see ``GDLearner.forward_pure``).

        Examples:
            >>> import torch
            >>> maml = MAML(torch.nn.Linear(4, 3), steps_train=2, steps_eval=2, lr=0.1)
            >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> query = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> maml((support, query))(query[0]).shape  # an episode: its support is used
            torch.Size([6, 3])
        """
        return self.learner()(self.model, data, evaluator=self.evaluator)


class MAMLpp(MAML):
    """MetaNN's MAML++: in training mode ``mamlpp(data)`` returns every step's model.

    In training mode the result is a ``MultiModel`` of ``steps_train + 1`` models (the
    initial weights and the weights after each step), for ``mamlpp_evaluator``; in eval mode
    it is the model adapted with ``steps_eval`` steps, as ``MAML`` returns it. For annealed
    weights, learned per-layer rates and derivative-order annealing use
    [`meta_algos.MAMLpp`][meta_algos.MAMLpp].

    The constructor is ``MAML``'s: the same arguments, defaults and checks (documented there).

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> mamlpp = MAMLpp(net, steps_train=3, steps_eval=5, lr=0.1)
        >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
        >>> query = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
        >>> total, last = mamlpp_evaluator(mamlpp(support), query, 3,
        ...                                default_evaluator_classification)
        >>> total.backward()
    """

    def forward(self, data: Any) -> Any:
        """Adapt to ``data``: every step's model in training mode, the last one in eval mode.

        Args:
            data: As for ``MAML``.

        Returns:
            A ``MultiModel`` of ``steps_train + 1`` models in training mode; the adapted
            model in eval mode.

        Examples:
            >>> import torch
            >>> mamlpp = MAMLpp(torch.nn.Linear(4, 3), steps_train=3, steps_eval=5, lr=0.1)
            >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> len(mamlpp(support)), type(mamlpp.eval()(support)).__name__
            (4, 'DependentLinear')
        """
        if self.training:
            return self.learner()(self.model, data, evaluator=self.evaluator, mimo=True)
        return self.learner()(self.model, data, evaluator=self.evaluator)
