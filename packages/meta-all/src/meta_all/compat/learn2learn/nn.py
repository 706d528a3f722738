"""learn2learn's ``l2l.nn``: layers frequently used for meta-learning, from meta-nn.

``Lambda``, ``Flatten``, ``Scale``, ``KroneckerLinear``, ``KroneckerRNN`` and ``KroneckerLSTM``
are :mod:`meta_nn`'s classes, which keep learn2learn's constructor signatures.
"""

from __future__ import annotations

from meta_nn import Flatten as Flatten
from meta_nn import KroneckerLinear as KroneckerLinear
from meta_nn import KroneckerLSTM as KroneckerLSTM
from meta_nn import KroneckerRNN as KroneckerRNN
from meta_nn import Lambda as Lambda
from meta_nn import Scale as Scale

__all__ = ["Flatten", "KroneckerLSTM", "KroneckerLinear", "KroneckerRNN", "Lambda", "Scale"]
