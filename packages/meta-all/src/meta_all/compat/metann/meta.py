"""MetaNN's ``metann.meta``: episodic learners, MAML, MAML++ and evaluators.

Every name is :mod:`meta_algos.episodic`'s object: ``GDLearner``, ``RMSPropLearner``,
``SequentialGDLearner`` and their base ``Learner``; ``MAML(model, steps_train, steps_eval, lr,
evaluator=default_evaluator_classification, first_order=False)`` whose call on support data
returns the adapted model; ``MAMLpp`` returning a ``MultiModel`` of every step's weights;
``default_evaluator_classification``, ``mamlpp_evaluator`` and ``active_indices``.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5))
    >>> maml = MAML(net, steps_train=5, steps_eval=10, lr=0.01)
    >>> data_train = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
    >>> data_test = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
    >>> loss = default_evaluator_classification(maml(data_train), data_test)
    >>> loss.backward()
"""

from __future__ import annotations

from meta_algos.episodic import MAML as MAML
from meta_algos.episodic import GDLearner as GDLearner
from meta_algos.episodic import Learner as Learner
from meta_algos.episodic import MAMLpp as MAMLpp
from meta_algos.episodic import MultiModel as MultiModel
from meta_algos.episodic import RMSPropLearner as RMSPropLearner
from meta_algos.episodic import SequentialGDLearner as SequentialGDLearner
from meta_algos.episodic import active_indices as active_indices
from meta_algos.episodic import default_evaluator_classification as default_evaluator_classification
from meta_algos.episodic import mamlpp_evaluator as mamlpp_evaluator

__all__ = [
    "MAML",
    "GDLearner",
    "Learner",
    "MAMLpp",
    "MultiModel",
    "RMSPropLearner",
    "SequentialGDLearner",
    "active_indices",
    "default_evaluator_classification",
    "mamlpp_evaluator",
]
