"""learn2learn's stateful meta-learning wrappers (``MAML``, ``MetaSGD``, ``GBML``).

Each wrapper is an ``nn.Module`` around a model. ``clone()`` returns a new wrapper around
[`clone_module`][meta_functional.clone_module] of the model, so the clone's parameters are non-leaf
tensors still connected to the original ones; ``adapt(loss)`` takes one differentiable gradient
step *in place* on that clone through [`inner_step_module`][meta_functional.inner_step_module]
(or, for ``GBML``'s transformed gradients,
[`descend_module`][meta_functional.descend_module]), the module shells of meta-*'s one update
rule. A loss computed with an adapted clone therefore back-propagates into the original model
(and into any learnable learning rates or gradient transforms), which is what a meta-optimizer
then steps.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

import torch
from meta_functional import descend_module, inner_step_module, update_module
from meta_functional.checks import (
    check_differentiable_loss,
    check_finite_rate,
    check_lr_shape,
    check_module,
    check_one_per_parameter,
)
from meta_optim import ParameterUpdate
from torch import Tensor, nn

from .utils import clone_module


class BaseLearner(nn.Module):
    """Common base of the learn2learn-style wrappers: holds ``module`` and forwards to it.

    Unlike learn2learn's ``BaseLearner``, attribute access is *not* forwarded to the wrapped
    module (that hides typos); reach it explicitly through ``.module``.

    Args:
        module: The wrapped model.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> learner = BaseLearner(torch.nn.Linear(2, 1))
        >>> learner(torch.ones(3, 2)).shape
        torch.Size([3, 1])
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = check_module(module, f"{type(self).__name__}: module")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped module (with its current, possibly adapted, parameters).

        Args:
            *args: Positional arguments for the module.
            **kwargs: Keyword arguments for the module.

        Returns:
            Whatever the wrapped module returns.
        """
        return self.module(*args, **kwargs)


class _Flags(NamedTuple):
    """learn2learn's three switches of a ``MAML``/``GBML`` learner."""

    first_order: bool
    allow_unused: bool
    allow_nograd: bool


LearnerT = TypeVar("LearnerT", bound="_FlaggedLearner[Any]")


class _FlaggedLearner(BaseLearner, abc.ABC, Generic[LearnerT]):
    """What ``MAML`` and ``GBML`` share: ``adapt`` and ``clone`` with per-call flag overrides.

    learn2learn's rule: ``first_order``, ``allow_unused`` and ``allow_nograd`` given to
    ``adapt`` (for that step) or ``clone`` (for the new learner) replace the learner's own;
    ``None`` keeps them. A subclass names itself in ``_name`` (for error messages), sets the
    flags and ``lr``, and says what one step is (``_step``) and how a clone is built
    (``_copy``).
    """

    _name: ClassVar[str]
    lr: float
    first_order: bool
    allow_unused: bool
    allow_nograd: bool

    def _flags(
        self,
        first_order: bool | None,
        allow_unused: bool | None,
        allow_nograd: bool | None,
    ) -> _Flags:
        return _Flags(
            first_order=self.first_order if first_order is None else first_order,
            allow_unused=self.allow_unused if allow_unused is None else allow_unused,
            allow_nograd=self.allow_nograd if allow_nograd is None else allow_nograd,
        )

    @abc.abstractmethod
    def _step(self, loss: Tensor, flags: _Flags) -> None:
        """Update the learner in place with one step on the checked ``loss``."""

    def _gradient_step(self, loss: Tensor, flags: _Flags, lr: float | dict[str, Tensor]) -> None:
        """The plain step ``p - lr * dloss/dp`` (``MAML``, and ``MetaSGD`` with its rates)."""
        inner_step_module(
            self.module,
            loss,
            lr,
            first_order=flags.first_order,
            allow_unused=flags.allow_unused,
            allow_nograd=flags.allow_nograd,
        )

    @abc.abstractmethod
    def _copy(self, flags: _Flags) -> LearnerT:
        """A new learner around differentiable copies of this one's tensors, with ``flags``."""

    def adapt(
        self,
        loss: Tensor,
        first_order: bool | None = None,
        allow_unused: bool | None = None,
        allow_nograd: bool | None = None,
    ) -> None:
        """Take one gradient step on ``loss``, in place, differentiably.

        The step is the learner's update rule (see the class). Call this on a clone (see
        ``clone``), not on the meta-model itself.

        Args:
            loss: Scalar loss computed with this learner.
            first_order: Overrides the constructor's ``first_order`` for this step.
            allow_unused: Overrides the constructor's ``allow_unused`` for this step.
            allow_nograd: Overrides the constructor's ``allow_nograd`` for this step.

        Raises:
            TypeError: If ``loss`` is not a tensor.
            ValueError: If ``loss`` is not a scalar or does not require grad, if a parameter
                does not require grad and ``allow_nograd`` is off, if a parameter is unused
                and ``allow_unused`` is off, or (``GBML``) if a transform's output does not
                have its parameter's shape.
        """
        checked = check_differentiable_loss(loss, f"{self._name}.adapt: loss")
        self._step(checked, self._flags(first_order, allow_unused, allow_nograd))

    def clone(
        self,
        first_order: bool | None = None,
        allow_unused: bool | None = None,
        allow_nograd: bool | None = None,
    ) -> LearnerT:
        """A new learner around differentiable copies of the model (graph kept to this one).

        Learnable update state (``MetaSGD``'s rates, ``GBML``'s transforms) is copied the same way.

        Args:
            first_order: The clone's ``first_order``; ``None`` copies this one's.
            allow_unused: The clone's ``allow_unused``; ``None`` copies this one's.
            allow_nograd: The clone's ``allow_nograd``; ``None`` copies this one's.

        Returns:
            The new learner; adapting it leaves this wrapper unchanged, and meta-gradients
            through it reach this wrapper's parameters.
        """
        return self._copy(self._flags(first_order, allow_unused, allow_nograd))


class MAML(_FlaggedLearner["MAML"]):
    """Model-agnostic meta-learning with learn2learn's ``clone()``/``adapt()`` interface.

    ``maml.clone()`` gives a learner whose parameters are differentiable copies of the model's;
    ``learner.adapt(loss)`` replaces them in place by ``p - lr * grad`` (a second-order step
    unless ``first_order``). The adapted learner is an ordinary module: calling it runs the
    model with the adapted tensors, and its ``parameters()`` are those tensors.

    Args:
        model: The model to meta-learn; its parameters are the meta-parameters.
        lr: The inner-loop (fast adaptation) learning rate.
        first_order: If ``True``, gradients of the inner step are not differentiated
            (first-order MAML); the meta-gradient then flows only through the identity path.
        allow_unused: Whether ``adapt`` tolerates parameters the loss does not depend on
            (they are left unchanged). ``None`` means: the same as ``allow_nograd``.
        allow_nograd: Whether ``adapt`` skips parameters that do not require grad (they are
            left unchanged); if ``False`` such a parameter is an error.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module`` or ``lr`` is not a number.
        ValueError: If ``lr`` is negative or not finite.

    References:
        Finn et al., 2017. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
        Networks." ICML.

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(3, 2)
        >>> maml = MAML(model, lr=0.1)
        >>> learner = maml.clone()
        >>> x, y = torch.randn(6, 3), torch.randint(0, 2, (6,))
        >>> learner.adapt(torch.nn.functional.cross_entropy(learner(x), y))
        >>> torch.nn.functional.cross_entropy(learner(x), y).backward()
        >>> model.weight.grad is not None
        True
    """

    _name = "MAML"

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        first_order: bool = False,
        allow_unused: bool | None = None,
        allow_nograd: bool = False,
    ) -> None:
        super().__init__(model)
        self.lr = check_finite_rate(lr, "MAML: lr")
        self.first_order = bool(first_order)
        self.allow_nograd = bool(allow_nograd)
        self.allow_unused = self.allow_nograd if allow_unused is None else bool(allow_unused)

    def _step(self, loss: Tensor, flags: _Flags) -> None:
        self._gradient_step(loss, flags, self.lr)

    def _copy(self, flags: _Flags) -> MAML:
        return MAML(
            clone_module(self.module),
            lr=self.lr,
            first_order=flags.first_order,
            allow_unused=flags.allow_unused,
            allow_nograd=flags.allow_nograd,
        )


def _learning_rates(model: nn.Module, lr: float, lrs: object) -> nn.ParameterList:
    params = list(model.named_parameters())
    if lrs is None:
        return nn.ParameterList([nn.Parameter(torch.full_like(p.detach(), lr)) for _, p in params])
    if isinstance(lrs, nn.ParameterList) or (
        isinstance(lrs, Sequence) and all(isinstance(entry, Tensor) for entry in lrs)
    ):
        entries: list[Tensor] = list(lrs)
    else:
        raise TypeError(
            f"MetaSGD expects lrs as a sequence of tensors (one per parameter) or None, got "
            f"{type(lrs).__name__}"
        )
    check_one_per_parameter(model, len(entries), "MetaSGD", "learning rates")
    for (name, param), rate in zip(params, entries, strict=True):
        check_lr_shape(name, rate, param)
    if isinstance(lrs, nn.ParameterList):
        return lrs
    return nn.ParameterList([nn.Parameter(rate.detach().clone()) for rate in entries])


class MetaSGD(_FlaggedLearner["MetaSGD"]):
    """Meta-SGD: MAML with a learnable learning rate for every parameter entry.

    ``lrs`` holds one learnable tensor per parameter (initialised to ``lr``); ``adapt`` steps
    ``p - lrs[i] * grad``. The rates are cloned into each learner, so a query loss computed
    with an adapted learner gives them meta-gradients. ``adapt`` and ``clone`` take the same
    per-call ``first_order``, ``allow_unused`` and ``allow_nograd`` overrides as ``MAML``
    (``allow_unused`` and ``allow_nograd`` are off unless given).

    Args:
        model: The model to meta-learn.
        lr: Initial value of every learning rate (used when ``lrs`` is ``None``).
        first_order: If ``True``, gradients of the inner step are not differentiated (the
            rates still receive meta-gradients).
        lrs: Optional initial rates: one tensor per parameter, of the parameter's shape (or a
            single element). An ``nn.ParameterList`` is used as is (shared); other tensors are
            copied into new parameters.

    Raises:
        TypeError: If ``model`` is not a module, ``lr`` not a number or ``lrs`` not a
            sequence of tensors.
        ValueError: If ``lr`` is negative or not finite, or ``lrs`` does not have one
            correctly shaped tensor per parameter.

    References:
        Li et al., 2017. "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning." arXiv.

    Examples:
        >>> import torch
        >>> meta_sgd = MetaSGD(torch.nn.Linear(3, 1), lr=0.1)
        >>> learner = meta_sgd.clone()
        >>> x = torch.randn(5, 3)
        >>> learner.adapt(learner(x).pow(2).mean())
        >>> learner(x).pow(2).mean().backward()
        >>> meta_sgd.lrs[0].grad is not None
        True
    """

    _name = "MetaSGD"

    def __init__(
        self,
        model: nn.Module,
        lr: float = 1.0,
        first_order: bool = False,
        lrs: Sequence[Tensor] | nn.ParameterList | None = None,
    ) -> None:
        super().__init__(model)
        self.lr = check_finite_rate(lr, "MetaSGD: lr")
        self.first_order = bool(first_order)
        self.allow_unused = self.allow_nograd = False
        self.lrs = _learning_rates(model, self.lr, lrs)

    def _step(self, loss: Tensor, flags: _Flags) -> None:
        names = [name for name, _ in self.module.named_parameters()]
        self._gradient_step(loss, flags, dict(zip(names, self.lrs, strict=True)))

    def _copy(self, flags: _Flags) -> MetaSGD:
        learner = MetaSGD(
            clone_module(self.module),
            lr=self.lr,
            first_order=flags.first_order,
            lrs=clone_module(self.lrs),
        )
        learner.allow_unused, learner.allow_nograd = flags.allow_unused, flags.allow_nograd
        return learner


class GBML(_FlaggedLearner["GBML"]):
    """Gradient-based meta-learning with a learnable gradient transform (learn2learn's GBML).

    The inner step is ``p <- p - lr * T_p(dloss/dp)``, where ``T_p = transform(p)`` is a module
    built once per parameter (held by a [`ParameterUpdate`][meta_optim.ParameterUpdate],
    ``compute_update``). With an identity-initialised transform (``KroneckerTransform``,
    ``MetaCurvatureTransform``) this starts as MAML; meta-training then learns the transform too,
    since query losses of adapted learners back-propagate into it (Meta-Curvature, KFO, ...).

    Args:
        module: The model to meta-learn.
        transform: A factory ``param -> nn.Module`` mapping a gradient to an update of the
            same shape, e.g. ``meta_optim.ModuleTransform(torch.nn.Linear)``,
            ``meta_optim.KroneckerTransform(meta_nn.KroneckerLinear)`` or
            ``meta_optim.MetaCurvatureTransform``.
        lr: The fast-adaptation learning rate applied to the transformed gradients.
        adapt_transform: If ``True``, each ``adapt`` also takes a gradient step (with ``lr``) on
            the learner's copy of the transform's parameters, using the loss's gradient with
            respect to them (non-zero from the second step on, when the loss depends on the
            transform through earlier updates), before the model's step, which then uses the
            stepped transform (learn2learn's order).
        first_order: If ``True``, the gradients are not differentiated (the transform still
            receives meta-gradients through the updates it produced).
        allow_unused: Whether ``adapt`` tolerates parameters the loss does not use.
        allow_nograd: Whether ``adapt`` skips parameters that do not require grad.

    Raises:
        TypeError: If ``module`` is not a module, ``transform`` is not callable, ``lr`` is not
            a number or the factory returns something other than a module.
        ValueError: If ``lr`` is negative or not finite.

    References:
        1. Finn et al., 2017. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
           Networks." ICML.
        2. Park & Oliva, 2019. "Meta-Curvature." NeurIPS.
        3. Arnold et al., 2019. "When MAML can adapt fast and how to assist when it cannot."

    Examples:
        >>> import torch
        >>> from meta_optim import MetaCurvatureTransform
        >>> gbml = GBML(torch.nn.Linear(3, 1), MetaCurvatureTransform, lr=0.1)
        >>> learner = gbml.clone()
        >>> x = torch.randn(5, 3)
        >>> learner.adapt(learner(x).pow(2).mean())
        >>> learner(x).pow(2).mean().backward()
        >>> gbml.compute_update.transforms[0].out_curvature.grad is not None
        True
    """

    _name = "GBML"
    transform: Callable[[Tensor], nn.Module]
    compute_update: ParameterUpdate

    def __init__(
        self,
        module: nn.Module,
        transform: Callable[[Tensor], nn.Module],
        lr: float = 1.0,
        adapt_transform: bool = False,
        first_order: bool = False,
        allow_unused: bool = False,
        allow_nograd: bool = False,
    ) -> None:
        super().__init__(module)
        if not callable(transform):
            raise TypeError(
                f"GBML expects transform as a callable param -> nn.Module, got "
                f"{type(transform).__name__}"
            )
        self._configure(
            transform,
            ParameterUpdate(module.parameters(), transform),
            lr=check_finite_rate(lr, "GBML: lr"),
            adapt_transform=adapt_transform,
            first_order=first_order,
            allow_unused=allow_unused,
            allow_nograd=allow_nograd,
        )

    def _configure(
        self,
        transform: Callable[[Tensor], nn.Module],
        compute_update: ParameterUpdate,
        *,
        lr: float,
        adapt_transform: bool,
        first_order: bool,
        allow_unused: bool,
        allow_nograd: bool,
    ) -> None:
        # The factory is configuration, not state: never registered as a submodule.
        object.__setattr__(self, "transform", transform)
        self.compute_update = compute_update
        self.lr = lr
        self.adapt_transform = bool(adapt_transform)
        self.first_order = bool(first_order)
        self.allow_unused = bool(allow_unused)
        self.allow_nograd = bool(allow_nograd)

    def _step(self, loss: Tensor, flags: _Flags) -> None:
        # With adapt_transform, the transform's parameters are stepped first, with lr times the
        # loss's gradient for them (left unchanged while the loss does not depend on them), and
        # the model's step then uses the stepped transform, in learn2learn's order.
        second_order = not flags.first_order
        if self.adapt_transform:
            inner_step_module(
                self.compute_update,
                loss,
                self.lr,
                first_order=flags.first_order,
                allow_unused=True,
                allow_nograd=True,
                retain_graph=True,  # the model's gradients come from the same graph next
            )
        updates = self.compute_update(
            loss,
            list(self.module.parameters()),
            create_graph=second_order,
            retain_graph=second_order,
            allow_unused=flags.allow_unused,
            allow_nograd=flags.allow_nograd,
        )
        descend_module(self.module, updates, self.lr)

    def _copy(self, flags: _Flags) -> GBML:
        learner = GBML.__new__(GBML)
        BaseLearner.__init__(learner, clone_module(self.module))
        learner._configure(
            self.transform,
            clone_module(self.compute_update),
            lr=self.lr,
            adapt_transform=self.adapt_transform,
            **flags._asdict(),
        )
        return learner


def maml_update(
    model: nn.Module, lr: float | Tensor, grads: Sequence[Tensor | None] | None = None
) -> nn.Module:
    """learn2learn's ``maml_update``: one differentiable step ``p - lr * g`` on ``model``.

    The parameter slots of ``model`` are replaced (the model object is updated in place, its
    old tensors are not), through [`descend_module`][meta_functional.descend_module], meta-*'s
    one update rule, exactly as ``MAML.adapt`` steps. As in learn2learn, ``grads=None`` applies
    the ``update`` attribute that each parameter or buffer may carry
    ([`update_module`][meta_functional.update_module]'s protocol) and ignores ``.grad``.

    Args:
        model: The model to update, usually a learner's clone.
        lr: The step size (a float or a scalar tensor).
        grads: One gradient (or ``None`` to leave that parameter) per tensor of
            ``model.parameters()``, in order.

    Returns:
        ``model``, updated.

    Raises:
        ValueError: If ``grads`` does not hold one entry per parameter (learn2learn prints a
            warning and updates the leading parameters instead) or a shape differs.
        TypeError: If an entry of ``grads`` is neither a tensor nor ``None``.

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(1, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.fill_(1.0)
        >>> maml_update(model, 0.5, [torch.ones(1, 1)]).weight.item()
        0.5
    """
    if grads is None:
        return update_module(model)
    return descend_module(model, list(grads), lr)


def _attribute(param: Tensor, name: str) -> Any:
    """An attribute set on a tensor by learn2learn's protocols (``update``, ``_lr``)."""
    return getattr(param, name)


def _rate_tensor(rate: Tensor | float, param: Tensor) -> Tensor:
    """A rate as a tensor in ``param``'s dtype (the value a float rate has in the step)."""
    return torch.as_tensor(rate, dtype=param.dtype, device=param.device)


def meta_sgd_update(
    model: nn.Module,
    lrs: Sequence[Tensor | float] | None = None,
    grads: Sequence[Tensor | None] | None = None,
) -> nn.Module:
    """learn2learn's ``meta_sgd_update``: one step ``p - lrs[i] * grads[i]`` per parameter.

    The step is [`descend_module`][meta_functional.descend_module] with one rate per
    parameter, the same rule as ``MetaSGD.adapt``; ``model``'s parameter slots are replaced.
    When ``lrs`` or ``grads`` is ``None``, learn2learn's attribute protocol applies: each
    parameter whose ``.grad`` is set steps by its ``_lr`` attribute, and both attributes are
    then cleared (learn2learn also steps buffers that carry them; this does not).

    Args:
        model: The model to update, usually a learner's clone.
        lrs: One rate per tensor of ``model.parameters()``: a float, a scalar tensor or a
            tensor of the parameter's shape.
        grads: One gradient (or ``None``) per tensor of ``model.parameters()``.

    Returns:
        ``model``, updated.

    Raises:
        ValueError: If ``lrs`` or ``grads`` does not hold one entry per parameter, or a shape
            differs.
        TypeError: If a gradient is neither a tensor nor ``None``.
        AttributeError: In the attribute protocol, if a parameter has ``.grad`` but no
            ``_lr``.

    Examples:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.fill_(1.0)
        >>> rates = [torch.tensor([[0.5, 0.25]])]
        >>> meta_sgd_update(model, rates, [torch.ones(1, 2)]).weight.tolist()
        [[0.5, 0.75]]
    """
    named = list(model.named_parameters())
    if lrs is not None and grads is not None:
        given = list(lrs)
        check_one_per_parameter(model, len(given), "meta_sgd_update", "lrs")
        rates = {
            name: _rate_tensor(rate, param)
            for (name, param), rate in zip(named, given, strict=True)
        }
        return descend_module(model, list(grads), rates)
    gradients = [param.grad for _, param in named]
    stepped = [(name, param) for name, param in named if param.grad is not None]
    rates = {name: _rate_tensor(_attribute(param, "_lr"), param) for name, param in stepped}
    descend_module(model, gradients, rates)
    for _, param in stepped:  # learn2learn clears both attributes of what it stepped
        param.grad = None
        param._lr = None  # type: ignore[attr-defined]  # learn2learn's attribute protocol
    return model
