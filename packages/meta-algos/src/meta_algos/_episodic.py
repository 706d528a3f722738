"""Implementation of MetaNN's episodic API (``metann.meta``).

The public documentation, including what ``data`` is, lives in :mod:`meta_algos.episodic`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import torch
from meta_functional import DependentModule, ProtoModule, named_params
from meta_optim import GradientTransformation, apply_updates, rmsprop, sgd
from torch import Tensor, nn

from ._checks import check_module, check_non_negative_int

#: A model as seen by an evaluator: a callable from an input batch to outputs.
ModelFn = Callable[[Any], Any]

#: An evaluator: ``evaluator(model, data) -> scalar loss``.
Evaluator = Callable[[ModelFn, Any], Tensor]

_Role = Literal["support", "query"]
_TASK_ATTRIBUTES = ("support_x", "support_y", "query_x", "query_y")
_DATA_FORMS = (
    "an (x, y) pair, a ((support_x, support_y), (query_x, query_y)) episode, or an object "
    "with support_x/support_y/query_x/query_y attributes"
)


# --------------------------------------------------------------------------------------------
# data handling


def _is_pair(obj: object) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2


def _split(data: Any, role: _Role, *, argument: str = "data") -> tuple[Any, Any]:
    """Resolve ``data`` (split, episode or task) to the ``(x, y)`` pair of ``role``."""
    if all(hasattr(data, name) for name in _TASK_ATTRIBUTES):
        return getattr(data, f"{role}_x"), getattr(data, f"{role}_y")
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(
                f"{argument} must be {_DATA_FORMS}; got a {type(data).__name__} of length "
                f"{len(data)}"
            )
        first, second = data
        if _is_pair(first) and _is_pair(second):
            chosen = first if role == "support" else second
            return chosen[0], chosen[1]
        return first, second
    raise TypeError(f"{argument} must be {_DATA_FORMS}; got {type(data).__name__}")


def _batches(data: Any) -> list[tuple[Any, Any]]:
    """Resolve sequential ``data`` to a list of support ``(x, y)`` batches."""
    if all(hasattr(data, name) for name in _TASK_ATTRIBUTES):
        return [_split(data, "support")]
    if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_pair(data[0]):
        return [(data[0], data[1])]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            f"data must be an (x, y) pair or a sequence of (x, y) batches; got "
            f"{type(data).__name__}"
        )
    batches: list[tuple[Any, Any]] = []
    for index, batch in enumerate(data):
        if not _is_pair(batch):
            raise TypeError(
                f"data[{index}] must be an (x, y) batch (a tuple or list of length 2); got "
                f"{type(batch).__name__}"
                + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            )
        batches.append((batch[0], batch[1]))
    if not batches:
        raise ValueError("data is an empty sequence; expected at least one (x, y) batch")
    return batches


def _check_positive(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{argument} must be a positive number, got {value!r}")
    return float(value)


def _check_loss(loss: object, who: str) -> Tensor:
    if not isinstance(loss, Tensor):
        raise TypeError(f"{who} must return a torch.Tensor loss, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"{who} must return a scalar loss, got shape {tuple(loss.shape)}; reduce it with "
            f".mean() or .sum()"
        )
    return loss


# --------------------------------------------------------------------------------------------
# evaluators and helpers

_CROSS_ENTROPY = nn.CrossEntropyLoss()


def default_evaluator_classification(
    model: ModelFn, data: Any, criterion: Callable[[Any, Any], Tensor] = _CROSS_ENTROPY
) -> Tensor:
    """Classification loss of ``model`` on the query part of ``data``.

    Args:
        model: A callable from inputs to logits: a module, an adapted model returned by a
            learner or :class:`MAML`, or ``ProtoModule.functional(...)``.
        data: An ``(x, y)`` pair, an episode ``((support_x, support_y), (query_x, query_y))``
            or a task object; for the latter two the *query* pair is used (see
            :mod:`meta_algos.episodic`).
        criterion: Loss from ``(model(x), y)`` to a scalar; defaults to
            ``torch.nn.CrossEntropyLoss()`` (mean over the batch).

    Returns:
        ``criterion(model(x), y)``, a scalar tensor.

    Raises:
        TypeError: If ``data`` has none of the accepted forms or the criterion does not return
            a tensor.
        ValueError: If ``data`` is a tuple or list whose length is not 2, or the loss is not a
            scalar.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> default_evaluator_classification(net, (x, y)).shape
        torch.Size([])
    """
    x, y = _split(data, "query")
    return _check_loss(criterion(model(x), y), "criterion")


def active_indices(lst: Iterable[object]) -> list[int]:
    """Return the indices of the truthy entries of ``lst``, in order.

    Useful to select which inner steps of a :class:`MultiModel` take part in a loss, from a
    mask such as ``[False, True, True]``.

    Args:
        lst: Any iterable; entries are tested with ``bool()``.

    Returns:
        The list of ``i`` with ``bool(lst[i])`` true.

    Examples:
        >>> active_indices([0, 1, True, None, "a"])
        [1, 2, 4]
    """
    return [index for index, entry in enumerate(lst) if entry]


def _proto(model: nn.Module) -> ProtoModule:
    if isinstance(model, ProtoModule):
        return model
    return ProtoModule(check_module(model, "model"))


class MultiModel(nn.Module):
    """One architecture evaluated at several sets of fast weights.

    :class:`MAMLpp` and ``forward_pure(..., mimo=True)`` return one, holding the fast weights
    after inner step 1, 2, ..., K (the initial weights are not included).

    Args:
        model: The architecture, as a :class:`~meta_functional.ProtoModule` (a plain module is
            wrapped in one).
        fast_weight_lst: Parameter mappings ``name -> tensor``, each naming exactly the
            parameters of ``model``.

    Raises:
        TypeError: If ``fast_weight_lst`` is not a sequence of mappings.

    Examples:
        >>> import torch
        >>> from meta_functional import ProtoModule, named_params
        >>> net = torch.nn.Linear(2, 1)
        >>> zero = {n: torch.zeros_like(p) for n, p in named_params(net).items()}
        >>> mimo = MultiModel(ProtoModule(net), [named_params(net), zero])
        >>> [tuple(out.shape) for out in mimo(torch.ones(3, 2))]
        [(3, 1), (3, 1)]
    """

    def __init__(self, model: nn.Module, fast_weight_lst: Sequence[Mapping[str, Tensor]]) -> None:
        super().__init__()
        if isinstance(fast_weight_lst, Mapping) or not isinstance(fast_weight_lst, Sequence):
            raise TypeError(
                f"fast_weight_lst must be a sequence of name -> tensor mappings, got "
                f"{type(fast_weight_lst).__name__}"
            )
        for index, weights in enumerate(fast_weight_lst):
            if not isinstance(weights, Mapping):
                raise TypeError(
                    f"fast_weight_lst[{index}] must be a name -> tensor mapping, got "
                    f"{type(weights).__name__}"
                )
        self.model = _proto(model)
        self.fast_weights: list[dict[str, Tensor]] = [dict(w) for w in fast_weight_lst]

    def __len__(self) -> int:
        return len(self.fast_weights)

    def __getitem__(self, index: int) -> ModelFn:
        """Return the model at fast weights ``index`` as a callable ``x -> output``."""
        return self.model.functional(self.fast_weights[index])

    def __iter__(self) -> Iterator[ModelFn]:
        """Iterate over the models at each set of fast weights, in step order."""
        return (self[index] for index in range(len(self)))

    def forward(self, x: Any) -> list[Any]:
        """Run the architecture at every set of fast weights.

        Args:
            x: Input batch.

        Returns:
            ``[model_at(w)(x) for w in fast_weight_lst]``, one output per set of weights.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(2, 1)
            >>> ones = {n: torch.ones_like(p) for n, p in net.named_parameters()}
            >>> MultiModel(net, [ones, ones])(torch.ones(1, 2))
            [tensor([[3.]]), tensor([[3.]])]
        """
        return [model(x) for model in self]


def _step_weights(steps: int, gamma: float, reference: Tensor) -> Tensor:
    exponents = torch.arange(steps - 1, -1, -1, dtype=reference.dtype, device=reference.device)
    weights = torch.as_tensor(gamma, dtype=reference.dtype, device=reference.device) ** exponents
    return weights / weights.sum()


def mamlpp_evaluator(
    mimo: MultiModel, data: Any, steps: int, evaluator: Evaluator, gamma: float = 0.6
) -> Tensor:
    """MAML++ multi-step loss: a weighted sum of the losses after the last ``steps`` steps.

    With the per-step losses ``L_1, ..., L_steps`` of the last ``steps`` fast weights of
    ``mimo`` (``L_steps`` is the final step), the result is ``sum_i w_i * L_i`` with
    ``w_i = gamma ** (steps - i) / sum_j gamma ** (steps - j)``: the final step has the largest
    weight, each earlier step ``gamma`` times the next one, and the weights sum to 1. With
    ``steps=1`` this is the plain final-step (MAML) loss; ``gamma=1`` averages the steps.

    Args:
        mimo: The fast weights after each inner step, e.g. from :class:`MAMLpp`.
        data: Query data for ``evaluator`` (split, episode or task; see :mod:`meta_algos.episodic`).
        steps: How many of the last fast weights take part, ``1 <= steps <= len(mimo)``.
        evaluator: ``evaluator(model, data) -> scalar loss``, e.g.
            :func:`default_evaluator_classification`.
        gamma: Decay towards earlier steps, ``0 < gamma <= 1``.

    Returns:
        The weighted loss, a scalar tensor.

    Raises:
        TypeError: If ``mimo`` is not a :class:`MultiModel` or the evaluator does not return a
            tensor.
        ValueError: If ``steps`` or ``gamma`` is out of range or a loss is not a scalar.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> learner = SequentialGDLearner(lr=0.1, momentum=0.0)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> mimo = learner.forward_pure(net, [(x, y)] * 3, mimo=True)
        >>> loss = mamlpp_evaluator(mimo, (x, y), 3, default_evaluator_classification)
        >>> loss.backward()
    """
    if not isinstance(mimo, MultiModel):
        raise TypeError(f"mimo must be a MultiModel, got {type(mimo).__name__}")
    check_non_negative_int(steps, "steps", minimum=1)
    if steps > len(mimo):
        raise ValueError(
            f"steps={steps} exceeds the {len(mimo)} sets of fast weights held by mimo; expected "
            f"1 <= steps <= {len(mimo)}"
        )
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma <= 1:
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    losses = torch.stack(
        [
            _check_loss(evaluator(mimo[index], data), "evaluator").reshape(())
            for index in range(len(mimo) - steps, len(mimo))
        ]
    )
    return (_step_weights(steps, float(gamma), losses) * losses).sum()


# --------------------------------------------------------------------------------------------
# learners


def _adapt_names(params: Mapping[str, Tensor]) -> list[str]:
    names = [name for name, tensor in params.items() if tensor.requires_grad]
    if not names:
        raise ValueError(
            f"none of the model's parameters {sorted(params)} requires grad; nothing to adapt"
        )
    return names


def _run_inner_loop(
    model_at: Callable[[Mapping[str, Tensor]], ModelFn],
    params: Mapping[str, Tensor],
    batches: Sequence[tuple[Any, Any]],
    optimizer: GradientTransformation[Any],
    evaluator: Evaluator,
    *,
    create_graph: bool,
) -> list[dict[str, Tensor]]:
    """Return the fast weights after each optimizer step, one step per batch."""
    current = dict(params)
    names = _adapt_names(current)
    state = optimizer.init({name: current[name] for name in names})
    trajectory: list[dict[str, Tensor]] = []
    with torch.enable_grad():
        for batch in batches:
            loss = _check_loss(evaluator(model_at(current), batch), "evaluator")
            if not loss.requires_grad:
                raise ValueError(
                    "the evaluator's loss does not depend on the model's parameters; it must be "
                    "computed from model(x)"
                )
            raw = torch.autograd.grad(
                loss,
                [current[name] for name in names],
                create_graph=create_graph,
                allow_unused=True,
            )
            grads = {
                name: torch.zeros_like(current[name]) if grad is None else grad
                for name, grad in zip(names, raw, strict=True)
            }
            updates, state = optimizer.update(grads, state, {name: current[name] for name in names})
            current = apply_updates(current, updates)
            trajectory.append(current)
    return trajectory


class Learner(nn.Module):
    """Inner-loop learner: adapts a model to support data with a meta-optim optimizer.

    The concrete learners (:class:`GDLearner`, :class:`RMSPropLearner`,
    :class:`SequentialGDLearner`) only choose the optimizer; any functional optimizer of
    meta-optim (``init``/``update`` over name -> tensor mappings) can be passed here.

    Each step computes ``loss = evaluator(model_at(current_weights), batch)``, its gradient
    with respect to every parameter that requires grad (``create_graph=True`` keeps the graph
    of the gradient, so meta-gradients include second-order terms as in MAML; ``False`` gives
    the first-order approximation), and applies the optimizer's update. Parameters that do
    not require grad are not adapted.

    Args:
        optimizer: A meta-optim functional optimizer such as ``meta_optim.sgd(0.1)``.
        steps: ``None``: ``data`` is a sequence of ``(x, y)`` batches (a single ``(x, y)``
            pair or a task's support set counts as one batch) and one step is taken per batch;
            an episode ``(support, query)`` is *not* accepted here, since it cannot be told
            apart from a sequence of two batches: pass its support split or a task. An int
            ``K >= 0``: ``data`` is one split (or the support part of an episode or task) and
            ``K`` steps are taken on it.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, (x, y)) -> scalar loss``; called with the support batch.

    Raises:
        TypeError: If ``optimizer`` is not a GradientTransformation or ``evaluator`` is not
            callable.
        ValueError: If ``steps`` is negative.

    Examples:
        >>> import torch, meta_optim
        >>> learner = Learner(meta_optim.adam(0.01), steps=3)
        >>> net = torch.nn.Linear(4, 3)
        >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
        >>> len(learner.fast_weights(net, (x, y)))
        3
    """

    def __init__(
        self,
        optimizer: GradientTransformation[Any],
        steps: int | None = None,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
    ) -> None:
        super().__init__()
        if not isinstance(optimizer, GradientTransformation):
            raise TypeError(
                f"optimizer must be a meta_optim.GradientTransformation (e.g. "
                f"meta_optim.sgd(0.1)), got {type(optimizer).__name__}"
            )
        if not callable(evaluator):
            raise TypeError(f"evaluator must be callable, got {type(evaluator).__name__}")
        self.optimizer = optimizer
        self.steps = None if steps is None else check_non_negative_int(steps, "steps")
        self.create_graph = bool(create_graph)
        self.evaluator = evaluator

    def _batches(self, data: Any) -> list[tuple[Any, Any]]:
        if self.steps is None:
            return _batches(data)
        return [_split(data, "support")] * self.steps

    def fast_weights(
        self, model: nn.Module, data: Any, evaluator: Evaluator | None = None
    ) -> list[dict[str, Tensor]]:
        """Adapt without touching ``model`` and return the weights after every step.

        Args:
            model: The module (or :class:`~meta_functional.ProtoModule`) to adapt; its
                parameters are the starting point.
            data: Support data; see ``steps`` in the class docstring.
            evaluator: Overrides the learner's evaluator for this call.

        Returns:
            One ``name -> tensor`` mapping per step (empty list for ``steps=0``). Each maps
            every parameter name; those not adapted are the model's own tensors.

        Raises:
            TypeError: If ``data`` or ``model`` has the wrong type or the evaluator does not
                return a tensor.
            ValueError: If the loss is not a scalar or does not depend on the parameters.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> weights = GDLearner(steps=2, lr=0.1).fast_weights(net, (x, y))
            >>> len(weights), sorted(weights[-1])
            (2, ['bias', 'weight'])
        """
        proto = _proto(model)
        return _run_inner_loop(
            proto.functional,
            named_params(proto),
            self._batches(data),
            self.optimizer,
            self.evaluator if evaluator is None else evaluator,
            create_graph=self.create_graph,
        )

    def forward_pure(
        self,
        model: nn.Module,
        data: Any,
        evaluator: Evaluator | None = None,
        mimo: bool = False,
    ) -> Any:
        """Adapt functionally: ``model`` and its parameters are left unchanged.

        Args:
            model: The module (or :class:`~meta_functional.ProtoModule`) to adapt.
            data: Support data; see ``steps`` in the class docstring.
            evaluator: Overrides the learner's evaluator for this call.
            mimo: Return a :class:`MultiModel` of the weights after every step instead of the
                final model.

        Returns:
            A callable ``x -> output`` running ``model`` at the adapted weights (its graph
            reaches ``model``'s parameters), or a :class:`MultiModel` if ``mimo``. With zero
            steps the callable runs the unadapted weights.

        Raises:
            TypeError: If ``data`` or ``model`` has the wrong type.
            ValueError: If the loss is not a scalar or does not depend on the parameters.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> adapted = GDLearner(steps=2, lr=0.1).forward_pure(net, (x, y))
            >>> adapted(x).shape
            torch.Size([6, 3])
        """
        proto = _proto(model)
        trajectory = self.fast_weights(proto, data, evaluator)
        if mimo:
            return MultiModel(proto, trajectory)
        final = trajectory[-1] if trajectory else named_params(proto)
        return proto.functional(final)

    def forward_inplace(
        self, model: nn.Module, data: Any, evaluator: Evaluator | None = None
    ) -> nn.Module:
        """Adapt a :class:`~meta_functional.DependentModule` by substituting its dependents.

        The module's current dependents (its parameters, once made dependent with
        ``clear_params(init=True)`` or ``DependentModule.stateless``) are the starting
        point; every inner step substitutes the current fast weights into ``model`` and calls
        the evaluator with ``model`` itself, and at the end the final fast weights stay
        substituted. They keep their graph, so a loss of the returned module reaches whatever
        the dependents were computed from (the original parameter objects after
        ``clear_params(init=True)``). Parameters that were not made dependents stay fixed.
        ``model`` is mutated and returned.

        Args:
            model: A :class:`~meta_functional.DependentModule` whose dependents are set.
            data: Support data; see ``steps`` in the class docstring.
            evaluator: Overrides the learner's evaluator for this call.

        Returns:
            ``model`` itself, holding the adapted dependents.

        Raises:
            TypeError: If ``model`` is not a DependentModule, or for a wrong ``data``.
            ValueError: If ``model`` has no dependents, or unset ones.

        Examples:
            >>> import copy, torch
            >>> from meta_functional import DependentModule
            >>> net = torch.nn.Linear(4, 3)
            >>> model = DependentModule(copy.deepcopy(net)).clear_params(init=True)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> adapted = GDLearner(steps=2, lr=0.1).forward_inplace(model, (x, y))
            >>> adapted is model, model.weight.grad_fn is not None
            (True, True)
        """
        if not isinstance(model, DependentModule):
            raise TypeError(
                f"forward_inplace needs a meta_functional.DependentModule, got "
                f"{type(model).__name__}; use forward_pure for a plain module, or wrap it: "
                f"DependentModule(copy.deepcopy(net)).clear_params(init=True)"
            )
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
        if not start:
            raise ValueError(
                f"{type(model).__name__} has no dependents to adapt; call "
                f"clear_params(init=True) first to turn its parameters into dependents"
            )

        def substituted(weights: Mapping[str, Tensor]) -> ModelFn:
            model.substitute(weights.items())
            return model

        trajectory = _run_inner_loop(
            substituted,
            start,
            self._batches(data),
            self.optimizer,
            self.evaluator if evaluator is None else evaluator,
            create_graph=self.create_graph,
        )
        substituted(trajectory[-1] if trajectory else start)
        return model

    def forward(self, model: nn.Module, data: Any, inplace: bool = False, **kwargs: Any) -> Any:
        """Dispatch to :meth:`forward_inplace` (``inplace=True``) or :meth:`forward_pure`.

        Args:
            model: The model to adapt (a DependentModule for ``inplace=True``).
            data: Support data; see ``steps`` in the class docstring.
            inplace: Mutate ``model`` instead of returning a new callable.
            **kwargs: Passed on (``evaluator``; ``mimo`` for the pure path).

        Returns:
            What the chosen method returns.

        Examples:
            >>> import torch
            >>> net = torch.nn.Linear(4, 3)
            >>> x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
            >>> adapted = GDLearner(steps=1, lr=0.1)(net, (x, y))  # forward_pure
            >>> adapted(x).shape
            torch.Size([6, 3])
        """
        if inplace:
            return self.forward_inplace(model, data, **kwargs)
        return self.forward_pure(model, data, **kwargs)


class GDLearner(Learner):
    """``steps`` steps of plain gradient descent (``meta_optim.sgd(lr)``) on one support split.

    Args:
        steps: Number of inner steps, ``>= 0``.
        lr: Inner learning rate, ``> 0``.
        create_graph: ``True``: second-order meta-gradients (MAML); ``False``: first order.
        evaluator: ``evaluator(model, (x, y)) -> scalar loss`` on the support split.

    Raises:
        ValueError: If ``steps`` is negative or ``lr`` is not positive.

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
        super().__init__(
            sgd(_check_positive(lr, "lr")),
            check_non_negative_int(steps, "steps"),
            create_graph=create_graph,
            evaluator=evaluator,
        )


class RMSPropLearner(Learner):
    """Inner loop with ``meta_optim.rmsprop(lr, alpha, eps, centered)``.

    Args:
        lr: Learning rate, ``> 0``.
        alpha: Smoothing constant of the squared-gradient average.
        eps: Added to the denominator.
        centered: Normalise by the variance estimate instead of the second moment.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, (x, y)) -> scalar loss`` on each support batch.
        steps: ``None`` (default): ``data`` is a sequence of ``(x, y)`` batches, one step per
            batch. An int: that many steps on one support split.

    Raises:
        ValueError: If ``lr`` is not positive or ``steps`` is negative.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> batches = [(torch.randn(6, 4), torch.randint(0, 3, (6,))) for _ in range(3)]
        >>> len(RMSPropLearner(lr=0.01).fast_weights(net, batches))
        3
    """

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-08,
        centered: bool = False,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
        steps: int | None = None,
    ) -> None:
        super().__init__(
            rmsprop(_check_positive(lr, "lr"), alpha=alpha, eps=eps, centered=centered),
            steps,
            create_graph=create_graph,
            evaluator=evaluator,
        )


class SequentialGDLearner(Learner):
    """One step of SGD with momentum (``meta_optim.sgd(lr, momentum)``) per support batch.

    ``data`` is a sequence of ``(x, y)`` batches (a single ``(x, y)`` pair or a task counts as
    one batch); the momentum buffer carries over from batch to batch.

    Args:
        lr: Learning rate, ``> 0``.
        momentum: Momentum factor, ``>= 0``.
        create_graph: Keep second-order terms in the meta-gradient.
        evaluator: ``evaluator(model, (x, y)) -> scalar loss`` on each batch.

    Raises:
        ValueError: If ``lr`` is not positive.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> batches = [(torch.randn(6, 4), torch.randint(0, 3, (6,))) for _ in range(2)]
        >>> mimo = SequentialGDLearner(lr=0.1).forward_pure(net, batches, mimo=True)
        >>> len(mimo)
        2
    """

    def __init__(
        self,
        lr: float,
        momentum: float = 0.5,
        create_graph: bool = True,
        evaluator: Evaluator = default_evaluator_classification,
    ) -> None:
        super().__init__(
            sgd(_check_positive(lr, "lr"), momentum=momentum),
            None,
            create_graph=create_graph,
            evaluator=evaluator,
        )


# --------------------------------------------------------------------------------------------
# MAML and MAML++


class MAML(nn.Module):
    """MetaNN's MAML: adapts ``model`` to a task's support set with :class:`GDLearner`.

    ``maml(data)`` takes ``steps_train`` gradient steps when the module is in training mode
    (``maml.train()``) and ``steps_eval`` in eval mode (``maml.eval()``), and returns the
    adapted model. Score it on the query set with the evaluator and call ``backward()``: the
    meta-gradient lands in ``maml.parameters()`` (the wrapped model's parameters).

    Args:
        model: The network to meta-learn; registered as the submodule ``model``.
        steps_train: Inner steps in training mode, ``>= 0``.
        steps_eval: Inner steps in eval mode, ``>= 0``.
        lr: Inner learning rate, ``> 0``.
        evaluator: Support loss ``evaluator(model, (x, y))``.
        first_order: Drop second-order terms (FOMAML); the default keeps them.

    Raises:
        ValueError: If a step count is negative or ``lr`` is not positive.

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

    #: Smallest accepted ``steps_train`` / ``steps_eval``.
    _min_steps = 0

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
        self.steps_train = check_non_negative_int(
            steps_train, "steps_train", minimum=self._min_steps
        )
        self.steps_eval = check_non_negative_int(steps_eval, "steps_eval", minimum=self._min_steps)
        self.lr = _check_positive(lr, "lr")
        if not callable(evaluator):
            raise TypeError(f"evaluator must be callable, got {type(evaluator).__name__}")
        self.evaluator = evaluator
        self.first_order = bool(first_order)

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
        """Return the :class:`GDLearner` used in the current mode.

        Returns:
            ``GDLearner(self.steps, lr, create_graph=not first_order, evaluator=evaluator)``.

        Examples:
            >>> import torch
            >>> maml = MAML(torch.nn.Linear(2, 2), steps_train=1, steps_eval=5, lr=0.1)
            >>> maml.learner().steps
            1
        """
        return GDLearner(
            self.steps, self.lr, create_graph=not self.first_order, evaluator=self.evaluator
        )

    def forward(self, data: Any) -> Any:
        """Adapt to the support part of ``data`` and return the adapted model.

        Args:
            data: An ``(x, y)`` support pair, an episode ``((support_x, support_y),
                (query_x, query_y))`` or a task object (its support part is used).

        Returns:
            A callable ``x -> output`` at the adapted weights.

        Raises:
            TypeError: If ``data`` has none of the accepted forms.

        Examples:
            >>> import torch
            >>> maml = MAML(torch.nn.Linear(4, 3), steps_train=2, steps_eval=2, lr=0.1)
            >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> query = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> maml((support, query))(query[0]).shape  # an episode: its support is used
            torch.Size([6, 3])
        """
        return self.learner().forward_pure(self.model, _split(data, "support"))


class MAMLpp(MAML):
    """MetaNN's MAML++: like :class:`MAML`, but returns the fast weights of every step.

    ``mamlpp(data)`` returns a :class:`MultiModel` holding the weights after each of the
    ``steps_train`` (training mode) or ``steps_eval`` (eval mode) inner steps; combine the
    per-step query losses with :func:`mamlpp_evaluator`. For annealed weights, learned
    per-layer rates and derivative-order annealing use ``meta_algos.MAMLpp``.

    Args:
        model: The network to meta-learn; registered as the submodule ``model``.
        steps_train: Inner steps in training mode, ``>= 1``.
        steps_eval: Inner steps in eval mode, ``>= 1``.
        lr: Inner learning rate, ``> 0``.
        evaluator: Support loss ``evaluator(model, (x, y))``.
        first_order: Drop second-order terms.

    Raises:
        ValueError: If a step count is below 1 or ``lr`` is not positive.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> mamlpp = MAMLpp(net, steps_train=3, steps_eval=5, lr=0.1)
        >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
        >>> query = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
        >>> mimo = mamlpp(support)
        >>> loss = mamlpp_evaluator(mimo, query, 3, default_evaluator_classification)
        >>> loss.backward()
    """

    _min_steps = 1

    def forward(self, data: Any) -> MultiModel:
        """Adapt to the support part of ``data`` and return every step's fast weights.

        Args:
            data: An ``(x, y)`` support pair, an episode or a task object.

        Returns:
            A :class:`MultiModel` with one set of fast weights per inner step.

        Raises:
            TypeError: If ``data`` has none of the accepted forms.

        Examples:
            >>> import torch
            >>> mamlpp = MAMLpp(torch.nn.Linear(4, 3), steps_train=3, steps_eval=5, lr=0.1)
            >>> support = (torch.randn(6, 4), torch.randint(0, 3, (6,)))
            >>> len(mamlpp(support)), len(mamlpp.eval()(support))
            (3, 5)
        """
        mimo: MultiModel = self.learner().forward_pure(
            self.model, _split(data, "support"), mimo=True
        )
        return mimo
