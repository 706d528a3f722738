"""learn2learn's ``l2l.nn.kroneckers``: the Kronecker-factored layers, from meta-nn.

See [`nn`][meta_all.compat.learn2learn.nn] for how they relate to learn2learn's.
"""

from __future__ import annotations

from meta_nn import KroneckerLinear as KroneckerLinear
from meta_nn import KroneckerLSTM as KroneckerLSTM
from meta_nn import KroneckerRNN as KroneckerRNN
from meta_nn import kronecker_addmm as kronecker_addmm

__all__ = ["KroneckerLSTM", "KroneckerLinear", "KroneckerRNN", "kronecker_addmm"]
