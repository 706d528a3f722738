"""learn2learn's ``l2l.nn.metalayers.parameter_transform``.

``ParameterTransform``, [`meta_nn.ParameterTransform`][meta_nn.ParameterTransform].
"""

from __future__ import annotations

from meta_nn import ParameterTransform as ParameterTransform

__all__ = ["ParameterTransform"]
