"""MAML++ (Antoniou et al. 2019): multi-step loss, per-layer per-step rates, order annealing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from meta_functional.checks import check_non_negative_int
from torch import Tensor, nn

from ._maml import StepRates, _LearnedRates


class MAMLpp(_LearnedRates):
    """MAML++: MAML with three of the stabilising changes of "How to train your MAML".

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

    Raises:
        ValueError: If ``inner_steps < 1``, an iteration count is negative, or for any error
            of [`MAML`][meta_algos.MAML] / [`MetaSGD`][meta_algos.MetaSGD] (clashing rate keys).
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
    ) -> None:
        check_non_negative_int(inner_steps, "inner_steps", minimum=1)
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
        return {name: rate[step] for name, rate in rates.items()}

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
