"""Stateful, differentiable optimizers over modules: learnable optimizers and updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from meta_functional import descend_module, detach_module
from meta_functional.checks import check_module, check_scalar_loss
from torch import Tensor, nn

from ._checks import check_lr
from ._typing import ScalarLike, TransformFactory


def _describe(index: int, tensor: Tensor) -> str:
    return f"parameter {index} (shape {tuple(tensor.shape)})"


def _parameter_list(parameters: object, owner: str) -> list[Tensor]:
    if isinstance(parameters, nn.Module):
        raise TypeError(
            f"{owner} expects an iterable of parameters, got the module "
            f"{type(parameters).__name__}; pass module.parameters()"
        )
    if isinstance(parameters, Tensor) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{owner} expects an iterable of parameter tensors, got {type(parameters).__name__}"
        )
    result = list(parameters)
    bad = [index for index, value in enumerate(result) if not isinstance(value, Tensor)]
    if bad:
        raise TypeError(
            f"{owner} expects parameter tensors; entries {bad} are "
            f"{sorted({type(result[index]).__name__ for index in bad})}"
        )
    return result


def _check_built(
    built: object, param: Tensor, index: int, owner: str, *, expected: str = "a torch.nn.Module"
) -> nn.Module:
    """Return what a transform factory built for ``param`` if it is a module, else raise."""
    if not isinstance(built, nn.Module):
        raise TypeError(
            f"{owner}: the transform factory returned {type(built).__name__} for "
            f"{_describe(index, param)}; expected {expected}"
        )
    return built


def _readable_grad(param: Tensor) -> Tensor | None:
    """``param.grad`` without the warning torch emits for non-leaf tensors that keep no grad."""
    if param.is_leaf or param.retains_grad:
        return param.grad
    return None


class LearnableOptimizer(nn.Module):
    """An optimizer whose update rule is a learnable transform of the gradient (meta-descent).

    One transform module is built per parameter of ``model`` (tied parameters counted once), by
    calling ``transform(param)``. [`step`][meta_optim.LearnableOptimizer.step] reads each
    parameter's ``.grad`` and replaces the model's parameters by the non-leaf tensors
    ``param - lr * transform_i(grad)`` (the one update rule, through
    [`descend_module`][meta_functional.descend_module]). The next forward and ``backward``
    therefore reach the transforms' parameters, which any ordinary optimizer over
    ``self.parameters()`` can then train (hypergradient descent). Before each update, the
    parameters produced by the previous [`step`][meta_optim.LearnableOptimizer.step] are
    detached ([`detach_module`][meta_functional.detach_module]), so every meta-gradient looks one
    step back and the graph does not grow with the number of steps.

    Behaviour to be aware of:

    * After the first [`step`][meta_optim.LearnableOptimizer.step], ``model.parameters()`` yields
      the new non-leaf tensors (with ``retain_grad()`` set, so ``backward`` fills their ``.grad``),
      not the original ``nn.Parameter`` objects; an optimizer built on the original objects no
      longer sees them.
    * The model is *not* registered as a submodule: ``self.parameters()``, ``state_dict()`` and
      ``.to()`` only concern the transforms.
    * Parameters whose ``.grad`` is ``None`` (frozen or unused) are left unchanged.
    * The gradients are constants of the meta-gradient (their own graph, if any, is not
      followed). [`step`][meta_optim.LearnableOptimizer.step] releases the ``.grad`` of the original
      leaf parameters it reads, since the update keeps a reference to that tensor. Those original
      parameters are in the graph of the first update only, so the backward after the first
      [`step`][meta_optim.LearnableOptimizer.step] also gives them a ``.grad``; later steps start
      from detached copies.

    Args:
        model: The module to optimize.
        transform: A factory ``param -> nn.Module`` (e.g.
            [`ModuleTransform`][meta_optim.ModuleTransform],
            [`KroneckerTransform`][meta_optim.KroneckerTransform],
            [`MetaCurvatureTransform`][meta_optim.MetaCurvatureTransform]); each module maps a
            gradient to a tensor of the same shape.
        lr: Step size applied to the transformed gradients, a non-negative float or a scalar
            tensor.

    Raises:
        TypeError: If ``model`` is not a module or a factory returns a non-module.
        ValueError: If ``lr`` is negative.

    References:
        1. Sutton. 1992. "Gain Adaptation Beats Least Squares."
        2. Baydin et al. 2017. "Online Learning Rate Adaptation with Hypergradient Descent."
        3. Majumder et al. 2019. "Learning the Learning Rate for Gradient Descent by Gradient
           Descent."
        4. Jacobsen et al. 2019. "Meta-Descent for Online, Continual Prediction."

    Examples:
        >>> import torch
        >>> from meta_nn import Scale
        >>> linear = torch.nn.Linear(4, 1)
        >>> metaopt = LearnableOptimizer(linear, lambda param: Scale(1), lr=0.1)
        >>> opt = torch.optim.SGD(metaopt.parameters(), lr=0.001)
        >>> inputs, targets = torch.randn(8, 4), torch.randn(8, 1)
        >>> for _ in range(3):
        ...     metaopt.zero_grad()
        ...     opt.zero_grad()
        ...     error = torch.nn.functional.mse_loss(linear(inputs), targets)
        ...     error.backward()
        ...     opt.step()  # update the transforms (no gradient for them before the 1st step)
        ...     metaopt.step()  # update linear
        >>> metaopt.transforms[0].alpha.grad is not None
        True
    """

    def __init__(self, model: nn.Module, transform: TransformFactory, lr: ScalarLike = 1.0) -> None:
        super().__init__()
        check_module(model, "LearnableOptimizer: model")
        if not callable(transform):
            raise TypeError(
                f"LearnableOptimizer expects transform to be a callable param -> nn.Module, "
                f"got {type(transform).__name__}"
            )
        check_lr(lr)
        self.lr = lr
        # Stored outside nn.Module's registry: the model is the target, not part of the state.
        object.__setattr__(self, "_model", model)
        params = list(model.parameters())
        self.transforms = nn.ModuleList(
            _check_built(transform(param), param, index, "LearnableOptimizer")
            for index, param in enumerate(params)
        )
        for param in params:
            if not param.is_leaf and param.requires_grad:
                param.retain_grad()

    @property
    def model(self) -> nn.Module:
        """The module being optimized.

        Returns:
            The ``model`` given at construction (updated in place by
            [`step`][meta_optim.LearnableOptimizer.step]).
        """
        model: nn.Module = self.__dict__["_model"]
        return model

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of the target model's parameters only (not the transforms').

        Args:
            set_to_none: Set ``.grad`` to ``None`` (default) instead of zeroing it in place.

        Examples:
            >>> import torch
            >>> from meta_nn import Scale
            >>> linear = torch.nn.Linear(2, 1)
            >>> metaopt = LearnableOptimizer(linear, lambda param: Scale(1))
            >>> linear(torch.ones(1, 2)).sum().backward()
            >>> metaopt.zero_grad()
            >>> linear.weight.grad is None
            True
        """
        for param in self.model.parameters():
            if _readable_grad(param) is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                grad = param.grad
                if grad is not None:
                    param.grad = torch.zeros_like(grad)

    def step(self) -> None:
        """Differentiably update the model with ``-lr * transform(grad)`` for each parameter.

        Raises:
            RuntimeError: If the model's parameters changed in number since construction.
            ValueError: If a transform's output does not have its parameter's shape.

        Examples:
            >>> import torch
            >>> from meta_nn import Scale
            >>> linear = torch.nn.Linear(2, 1)
            >>> metaopt = LearnableOptimizer(linear, lambda param: Scale(1), lr=0.5)
            >>> linear(torch.ones(1, 2)).sum().backward()
            >>> before = linear.bias.detach().clone()
            >>> metaopt.step()
            >>> torch.allclose(linear.bias, before - 0.5)  # d(sum)/d(bias) = 1
            True
        """
        params = list(self.model.parameters())
        if len(params) != len(self.transforms):
            raise RuntimeError(
                f"LearnableOptimizer was built for {len(self.transforms)} parameters but the "
                f"model now has {len(params)}; build a new LearnableOptimizer"
            )
        directions: list[Tensor | None] = []
        for index, (param, transform) in enumerate(zip(params, self.transforms, strict=True)):
            grad = _readable_grad(param)
            if grad is None:
                directions.append(None)
                continue
            update = transform(grad.detach())
            if not isinstance(update, Tensor) or update.shape != param.shape:
                got = tuple(update.shape) if isinstance(update, Tensor) else type(update).__name__
                raise ValueError(
                    f"LearnableOptimizer: the transform of {_describe(index, param)} returned "
                    f"{got}; expected the parameter's shape"
                )
            directions.append(update)
            if param.is_leaf:
                # The update keeps `grad` in its graph; a later backward that accumulates into
                # this leaf's .grad in place would corrupt it, so the leaf lets go of it.
                param.grad = None
        detach_module(self.model, keep_requires_grad=True)
        descend_module(self.model, directions, self.lr)
        for param in self.model.parameters():
            if not param.is_leaf:
                param.retain_grad()


class ParameterUpdate(nn.Module):
    """Like ``torch.autograd.grad``, but returns transformed gradients ("updates").

    One transform module is built per parameter by calling ``transform(param)``; a factory may
    return ``None`` for a parameter whose gradient should be returned untransformed.
    [`forward`][meta_optim.ParameterUpdate.forward] differentiates ``loss`` and passes each gradient
    through its transform.

    The updates are the transforms' outputs as they are: to take a descent step, pass them to
    [`descend_module`][meta_functional.descend_module], e.g.
    ``descend_module(model, updates, lr)`` (with an identity-initialised transform such as
    [`KroneckerTransform`][meta_optim.KroneckerTransform], this starts as plain gradient descent).

    Args:
        parameters: The parameters whose gradients will be transformed (e.g.
            ``model.parameters()``), in the order [`forward`][meta_optim.ParameterUpdate.forward]
            will receive them.
        transform: A factory ``param -> nn.Module | None``.

    Raises:
        TypeError: If ``parameters`` is a module or not an iterable of tensors, ``transform`` is
            not callable, or it returns something other than a module or ``None``.

    Examples:
        >>> import torch
        >>> from meta_functional import clone_module, descend_module
        >>> from meta_nn import KroneckerLinear
        >>> from meta_optim import KroneckerTransform
        >>> model = torch.nn.Linear(3, 2)
        >>> get_update = ParameterUpdate(model.parameters(), KroneckerTransform(KroneckerLinear))
        >>> opt = torch.optim.SGD([*model.parameters(), *get_update.parameters()], lr=0.01)
        >>> inputs, targets = torch.randn(5, 3), torch.randn(5, 2)
        >>> opt.zero_grad()
        >>> learner = clone_module(model)
        >>> error = torch.nn.functional.mse_loss(learner(inputs), targets)
        >>> updates = get_update(error, learner.parameters(), create_graph=True)
        >>> learner = descend_module(learner, updates, 0.1)
        >>> torch.nn.functional.mse_loss(learner(inputs), targets).backward()
        >>> opt.step()
    """

    def __init__(
        self, parameters: Iterable[Tensor], transform: Callable[[Tensor], nn.Module | None]
    ) -> None:
        super().__init__()
        params = _parameter_list(parameters, "ParameterUpdate")
        if not callable(transform):
            raise TypeError(
                f"ParameterUpdate expects transform to be a callable param -> nn.Module | None, "
                f"got {type(transform).__name__}"
            )
        self.shapes = [param.shape for param in params]
        modules: list[nn.Module] = []
        self.transform_index: list[int | None] = []
        for index, param in enumerate(params):
            built = transform(param)
            if built is None:
                self.transform_index.append(None)
                continue
            expected = "a torch.nn.Module or None"
            module = _check_built(built, param, index, "ParameterUpdate", expected=expected)
            self.transform_index.append(len(modules))
            modules.append(module)
        self.transforms = nn.ModuleList(modules)

    def forward(
        self,
        loss: Tensor,
        parameters: Iterable[Tensor],
        create_graph: bool = False,
        retain_graph: bool = False,
        allow_unused: bool = False,
        allow_nograd: bool = False,
    ) -> list[Tensor | None]:
        """Differentiate ``loss`` with respect to ``parameters`` and transform the gradients.

        Args:
            loss: Scalar loss to differentiate.
            parameters: The tensors to differentiate with respect to, one per parameter given
                at construction and with the same shapes (e.g. the parameters of a clone).
            create_graph: As in ``torch.autograd.grad``; needed for the updates to be
                differentiable with respect to the parameters (second order). The updates are
                always differentiable with respect to the transforms' parameters.
            retain_graph: Keep the graph of ``loss`` (it is kept anyway when
                ``create_graph=True``).
            allow_unused: Return ``None`` for parameters that ``loss`` does not depend on
                instead of raising.
            allow_nograd: Return ``None`` for parameters that do not require grad instead of
                raising.

        Returns:
            One update per parameter: the transform's output (or the gradient itself where the
            factory returned ``None``), or ``None`` as allowed above.

        Raises:
            TypeError: If ``loss`` or a parameter is not a tensor.
            ValueError: If ``loss`` is not a scalar, the number or shapes of ``parameters`` differ
                from construction, a parameter does not require grad (without
                ``allow_nograd``) or is unused (without ``allow_unused``).

        Examples:
            >>> import torch
            >>> from meta_optim import MetaCurvatureTransform
            >>> weight = torch.ones(2, requires_grad=True)
            >>> frozen = torch.ones(2)
            >>> get_update = ParameterUpdate([weight, frozen], MetaCurvatureTransform)
            >>> get_update((3 * weight).sum() + frozen.sum(), [weight, frozen], allow_nograd=True)
            [tensor([3., 3.], grad_fn=<MulBackward0>), None]
        """
        check_scalar_loss(loss, "ParameterUpdate: loss")
        params = _parameter_list(parameters, "ParameterUpdate.forward")
        if len(params) != len(self.shapes):
            raise ValueError(
                f"ParameterUpdate was built for {len(self.shapes)} parameters, "
                f"got {len(params)}; pass them in the order given at construction"
            )
        for index, (param, shape) in enumerate(zip(params, self.shapes, strict=True)):
            if param.shape != shape:
                raise ValueError(
                    f"ParameterUpdate: {_describe(index, param)} differs from the shape "
                    f"{tuple(shape)} it was built for"
                )
        nograd = [index for index, param in enumerate(params) if not param.requires_grad]
        if nograd and not allow_nograd:
            shown = ", ".join(_describe(index, params[index]) for index in nograd)
            raise ValueError(
                f"ParameterUpdate: {shown} does not require grad; pass allow_nograd=True to get "
                f"None as its update, or set requires_grad"
            )
        differentiable = [index for index, param in enumerate(params) if param.requires_grad]
        grads: list[Tensor | None] = [None] * len(params)
        if differentiable:
            computed = torch.autograd.grad(
                loss,
                [params[index] for index in differentiable],
                create_graph=create_graph,
                retain_graph=retain_graph or create_graph,
                allow_unused=True,
            )
            for index, grad in zip(differentiable, computed, strict=True):
                grads[index] = grad
        unused = [index for index in differentiable if grads[index] is None]
        if unused and not allow_unused:
            shown = ", ".join(_describe(index, params[index]) for index in unused)
            raise ValueError(
                f"ParameterUpdate: {shown} was not used to compute loss; pass allow_unused=True "
                f"to get None as its update"
            )
        return [self._transform(index, grad) for index, grad in enumerate(grads)]

    def _transform(self, index: int, grad: Tensor | None) -> Tensor | None:
        position = self.transform_index[index]
        if grad is None or position is None:
            return grad
        update: Tensor = self.transforms[position](grad)
        return update


class DifferentiableSGD(nn.Module):
    """Differentiable, in-place gradient descent on a module: ``p <- p - lr * g``.

    A stateful shell over the one update rule,
    [`descend_module`][meta_functional.descend_module]. The new parameters are non-leaf tensors,
    so a loss computed with the updated module can be differentiated with respect to the old
    parameters, to the gradients (if they carry a graph, e.g. from ``create_graph=True``) and to
    ``lr`` if it is a tensor that requires grad (an ``nn.Parameter`` ``lr`` is registered and
    appears in ``self.parameters()``).

    Args:
        lr: The learning rate, a non-negative float or a scalar tensor.

    Raises:
        TypeError: If ``lr`` is neither a float nor a tensor.
        ValueError: If ``lr`` is negative or not a scalar.

    Examples:
        >>> import torch
        >>> from meta_functional import clone_module
        >>> model = clone_module(torch.nn.Linear(3, 1))
        >>> loss = model(torch.ones(2, 3)).pow(2).mean()
        >>> gradients = torch.autograd.grad(loss, list(model.parameters()), create_graph=True)
        >>> sgd = DifferentiableSGD(0.1)
        >>> _ = sgd(model, gradients)  # model is updated in-place
        >>> model.weight.grad_fn is not None
        True
    """

    def __init__(self, lr: ScalarLike) -> None:
        super().__init__()
        check_lr(lr)
        self.lr = lr

    def forward(
        self, module: nn.Module, gradients: Sequence[Tensor | None] | None = None
    ) -> nn.Module:
        """Update ``module`` in place with ``p <- p - lr * g`` for every parameter.

        Args:
            module: The module to update.
            gradients: One gradient (or ``None`` to leave the parameter unchanged) per tensor
                of ``module.parameters()``, in that order. If ``None``, the parameters'
                ``.grad`` attributes are used.

        Returns:
            ``module`` itself, updated.

        Raises:
            TypeError: If ``module`` is not a module, ``gradients`` is a single tensor or a
                gradient is not a tensor.
            ValueError: If the number of gradients differs from the number of parameters, a
                gradient's shape differs from its parameter's, or, with ``gradients=None``, no
                parameter has a ``.grad``.

        Examples:
            >>> import torch
            >>> model = torch.nn.Linear(1, 1, bias=False)
            >>> with torch.no_grad():
            ...     _ = model.weight.fill_(1.0)
            >>> _ = DifferentiableSGD(0.5)(model, [torch.ones(1, 1)])
            >>> model.weight
            tensor([[0.5000]], grad_fn=<AddBackward0>)
        """
        check_module(module, "DifferentiableSGD: module")
        if gradients is None:
            params = list(module.parameters())
            gradients = [_readable_grad(param) for param in params]
            if params and all(grad is None for grad in gradients):
                raise ValueError(
                    f"DifferentiableSGD: no parameter of {type(module).__name__} has a .grad; "
                    f"call backward() first or pass gradients"
                )
        return descend_module(module, gradients, self.lr)
