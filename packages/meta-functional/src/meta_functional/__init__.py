"""meta-functional: the vendorable, stateless core of meta-* (stdlib + torch, relative imports).

The package directory can be copied into another project; see the docs on vendoring.
"""

from __future__ import annotations

from . import checks
from .__about__ import __version__
from ._cloning import (
    clone_distribution,
    clone_named_parameters,
    clone_parameters,
    detach_distribution,
)
from ._functional import (
    adapt,
    adapt_trajectory,
    functional_forward,
    inner_step,
    named_buffers,
    named_params,
    sgd_update,
)
from ._modules import (
    clone_module,
    descend_module,
    detach_module,
    inner_step_module,
    magic_box,
    refresh_rnn_weights,
    update_module,
)
from ._solvers import conjugate_gradient
from ._typing import BuildLoss, GradMode, LearningRate, Params, UpdateRule

__all__ = [
    "BuildLoss",
    "GradMode",
    "LearningRate",
    "Params",
    "UpdateRule",
    "__version__",
    "adapt",
    "adapt_trajectory",
    "checks",
    "clone_distribution",
    "clone_module",
    "clone_named_parameters",
    "clone_parameters",
    "conjugate_gradient",
    "descend_module",
    "detach_distribution",
    "detach_module",
    "functional_forward",
    "inner_step",
    "inner_step_module",
    "magic_box",
    "named_buffers",
    "named_params",
    "refresh_rnn_weights",
    "sgd_update",
    "update_module",
]
