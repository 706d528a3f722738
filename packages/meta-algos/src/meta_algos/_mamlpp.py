"""MAML++ (Antoniou et al. 2019): multi-step loss, per-step rates and BatchNorm, annealing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from meta_functional.checks import check_flag, check_non_negative_int
from torch import Tensor, nn

from ._batchnorm import PerStepBatchNorm, affine_names
from ._maml import StepRates, _LearnedRates


class MAMLpp(_LearnedRates):
    """MAML++: MAML with the stabilising changes of "How to train your MAML".

    * **Multi-step loss (MSL).** The meta-objective is ``sum_i w_i * L_query(theta_i)``, the
      query losses after every inner step ``i = 1..inner_steps`` weighted by
      [`step_weights`][meta_algos.MAMLpp.step_weights]. The weights always sum to 1: they start
      uniform and move linearly towards the last step over the first ``msl_iterations``
      meta-iterations, after which only the final query loss counts (``msl_iterations=0`` means that
      from the start).
    * **Per-layer per-step learned inner rates (LSLR).** Every adapted parameter ``name`` has
      a learnable rate vector of shape ``(inner_steps,)`` (one scalar per step), initialised
      to ``inner_lr`` and registered in the ``ParameterDict`` ``rates`` under ``name`` with
      ``'.'`` replaced by ``'__'``; `inner_rates` gives them by parameter name.
      Inner step ``i`` uses ``p - rates[name][i] * grad``.
    * **Derivative-order annealing.** Inner steps are first order (FOMAML) while
      [`meta_iteration`][meta_algos.MAML.meta_iteration] ``< first_order_iterations`` and second
      order afterwards.

    * **Per-step BatchNorm running statistics (BNRS)**, ``per_step_bn_statistics=True``:
      every BatchNorm layer that tracks running statistics gets its own running mean,
      variance and batch count for each parameter state ``j = 0..inner_steps`` (``j`` inner
      steps taken: state ``j < inner_steps`` is the support pass of step ``j + 1``, and the
      query pass after step ``j`` uses state ``j``, so the final query pass has its own
      statistics). In training mode a pass at state ``j`` updates only row ``j``, exactly as
      ``nn.BatchNorm`` updates its own statistics; in eval mode it normalises with row
      ``j``. They are buffers of ``per_step_bn`` (in ``state_dict``), initialised from
      the layer's own statistics. The reference implementation indexes the query pass after
      step ``j`` by the step before it (``j - 1``); here every state has one set.
    * **Per-step BatchNorm weights and biases (BNWB)**, ``per_step_bn_weights=True``: every
      affine BatchNorm layer gets a learned weight and bias per parameter state (shape
      ``(inner_steps + 1, channels)``, initialised from the layer's), meta-learned and not
      adapted in the inner loop, as in the paper. The layers' own weights and biases are
      then unused and left out of the adapted parameters.

    The schedules read [`meta_iteration`][meta_algos.MAML.meta_iteration]; call
    [`advance_iteration`][meta_algos.MAML.advance_iteration] after every meta-update (``meta_train``
    does). The constructor's ``first_order`` of [`MAML`][meta_algos.MAML] does not exist here:
    [`uses_first_order`][meta_algos.MAMLpp.uses_first_order] follows the schedule.

    Args:
        module: The model to meta-train.
        inner_lr: Initial value of every learned per-step rate.
        inner_steps: Number of inner steps (``>= 1``); the rates and weights have this length.
        msl_iterations: Meta-iterations over which the step weights anneal to the last step.
        first_order_iterations: Meta-iterations that use first-order inner steps.
        adapt_names: Parameters to adapt (and learn rates for); ``None`` means all.
        allow_unused: See [`MAML`][meta_algos.MAML].
        compile: See [`MAML`][meta_algos.MAML] and [`set_compile`][meta_algos.MAML.set_compile].
        per_step_bn_statistics: BNRS: BatchNorm running statistics per parameter state.
        per_step_bn_weights: BNWB: learned BatchNorm weights and biases per parameter state.

    Raises:
        TypeError: If a per-step flag is not a bool, or for any error of
            [`MAML`][meta_algos.MAML].
        ValueError: If ``inner_steps < 1``, an iteration count is negative, a per-step
            BatchNorm option finds no BatchNorm layer it applies to, ``adapt_names`` names a
            BatchNorm weight or bias with ``per_step_bn_weights``, or for any error of
            [`MAML`][meta_algos.MAML] / [`MetaSGD`][meta_algos.MetaSGD] (clashing rate keys).
        KeyError: If ``adapt_names`` names a non-parameter.

    Examples:
        >>> import torch.nn.functional as F
        >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        >>> mamlpp = MAMLpp(net, inner_lr=0.1, inner_steps=3, msl_iterations=10)
        >>> mamlpp.step_weights()
        tensor([0.3333, 0.3333, 0.3333], dtype=torch.float64)
        >>> x, y = torch.randn(5, 1), torch.randn(5, 1)
        >>> mamlpp.query_loss(F.mse_loss, x, y, x, y).backward()
        >>> mamlpp.inner_rates()["0.weight"].grad.shape
        torch.Size([3])
        >>> bn_net = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.BatchNorm1d(4))
        >>> bnpp = MAMLpp(bn_net, inner_steps=2, per_step_bn_statistics=True,
        ...               per_step_bn_weights=True)
        >>> bnpp.per_step_bn.layers["1"].running_mean.shape, bnpp.adapt_names
        (torch.Size([3, 4]), ('0.weight', '0.bias'))

    References:
        Antoniou, Edwards and Storkey, "How to train your MAML", ICLR 2019.
    """

    def __init__(
        self,
        module: nn.Module,
        inner_lr: float = 0.01,
        inner_steps: int = 5,
        *,
        msl_iterations: int = 100,
        first_order_iterations: int = 50,
        adapt_names: Iterable[str] | None = None,
        allow_unused: bool = True,
        compile: bool | dict[str, Any] = False,
        per_step_bn_statistics: bool = False,
        per_step_bn_weights: bool = False,
    ) -> None:
        check_non_negative_int(inner_steps, "inner_steps", minimum=1)
        statistics = check_flag(per_step_bn_statistics, "per_step_bn_statistics")
        weights = check_flag(per_step_bn_weights, "per_step_bn_weights")
        if weights:
            adapt_names = _without_bn_affine(module, adapt_names)
        super().__init__(
            module,
            inner_lr,
            inner_steps,
            first_order=False,
            adapt_names=adapt_names,
            allow_unused=allow_unused,
            compile=compile,
        )
        self.msl_iterations = check_non_negative_int(msl_iterations, "msl_iterations")
        self.first_order_iterations = check_non_negative_int(
            first_order_iterations, "first_order_iterations"
        )
        self.per_step_bn: PerStepBatchNorm | None = None
        if statistics or weights:
            self.per_step_bn = PerStepBatchNorm(
                self.module, self.inner_steps + 1, statistics=statistics, weights=weights
            )

    def _learned_rates(self) -> dict[str, Tensor]:
        learned = self.inner_rates()
        if self.per_step_bn is not None:
            learned.update(self.per_step_bn.learned())
        return learned

    def _at_step(
        self, params: dict[str, Tensor], learned: Mapping[str, Tensor], state: int
    ) -> dict[str, Tensor]:
        if self.per_step_bn is None:
            return params
        return {**params, **self.per_step_bn.overrides(learned, state)}

    def _rate_shape(self, param: Tensor) -> Sequence[int]:
        return (self.inner_steps,)

    def uses_first_order(self) -> bool:
        """Whether the current meta-iteration uses first-order inner steps.

        Returns:
            ``meta_iteration < first_order_iterations``.
        """
        return self.meta_iteration < self.first_order_iterations

    def step_rates(self, step: int) -> StepRates:
        """The learned rates of inner step ``step`` (0-based), one scalar per parameter.

        Args:
            step: Index of the inner step.

        Returns:
            A mapping name -> 0-dim rate tensor (a view into the learned vector).

        Raises:
            ValueError: If ``step`` is not in ``[0, inner_steps)``.
        """
        if step >= self.inner_steps or step < 0:
            raise ValueError(
                f"MAMLpp learned rates for inner steps 0..{self.inner_steps - 1}, but step "
                f"{step} was requested; construct MAMLpp with inner_steps >= {step + 1}"
            )
        return self._rates_at(self.inner_rates(), step)

    def _rates_at(self, rates: Mapping[str, Tensor], step: int) -> StepRates:
        # ``rates`` may also hold the per-step BatchNorm weights, which are not stepped
        return {name: rates[name][step] for name in self.adapt_names}

    def _resolve_steps(self, steps: int | None) -> int:
        if steps is None:
            return self.inner_steps
        steps = check_non_negative_int(steps, "steps")
        if steps > self.inner_steps:
            raise ValueError(
                f"steps={steps} exceeds inner_steps={self.inner_steps}: MAMLpp has learned "
                f"rates for {self.inner_steps} steps only"
            )
        return steps

    def query_step_weights(self, steps: int) -> list[float] | None:
        """The multi-step-loss weights for ``steps`` inner steps, as floats.

        Args:
            steps: Number of inner steps.

        Returns:
            ``steps`` non-negative weights summing to 1 (see
            [`step_weights`][meta_algos.MAMLpp.step_weights]); ``None`` for ``steps=0`` (no
            step, so the objective is the unadapted query loss).
        """
        if steps == 0:
            return None
        progress = (
            1.0 if self.msl_iterations == 0 else min(self.meta_iteration / self.msl_iterations, 1.0)
        )
        weights = [(1.0 - progress) / steps] * steps
        weights[-1] += progress
        return weights

    def step_weights(self, steps: int | None = None) -> Tensor:
        """The current multi-step-loss importance weights of the query losses.

        With ``t = min(meta_iteration / msl_iterations, 1)`` (``1`` if ``msl_iterations`` is
        0), the weight of step ``i`` is ``(1 - t) / steps`` plus ``t`` for the last step: they
        sum to 1, start uniform and end on the last step.

        Args:
            steps: Number of inner steps (``1..inner_steps``); ``None`` uses ``inner_steps``.

        Returns:
            A float64 tensor of shape ``(steps,)``.

        Raises:
            ValueError: If ``steps`` is out of range.

        Examples:
            >>> mamlpp = MAMLpp(torch.nn.Linear(1, 1), inner_steps=2, msl_iterations=4)
            >>> _ = mamlpp.advance_iteration(), mamlpp.advance_iteration()
            >>> mamlpp.step_weights()
            tensor([0.2500, 0.7500], dtype=torch.float64)
        """
        if steps is not None:
            check_non_negative_int(steps, "steps", minimum=1)
        weights = self.query_step_weights(self._resolve_steps(steps))
        return torch.tensor(weights, dtype=torch.float64)


def _without_bn_affine(module: nn.Module, adapt_names: Iterable[str] | None) -> Iterable[str]:
    """``adapt_names`` (all parameters if ``None``) less the BatchNorm weights and biases.

    Raises:
        ValueError: If ``adapt_names`` names a BatchNorm weight or bias.
    """
    affine = set(affine_names(module))
    if adapt_names is None:
        return [name for name, _ in module.named_parameters() if name not in affine]
    if isinstance(adapt_names, str):
        return adapt_names  # MAML's own check rejects a string with its usual message
    names = list(adapt_names)
    clashes = sorted(affine.intersection(names))
    if clashes:
        raise ValueError(
            f"per_step_bn_weights=True learns BatchNorm weights and biases per step instead of "
            f"adapting them, but adapt_names includes {clashes}; leave them out of adapt_names"
        )
    return names
