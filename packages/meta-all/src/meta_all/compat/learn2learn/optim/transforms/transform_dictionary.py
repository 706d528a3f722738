"""learn2learn's ``l2l.optim.transforms.transform_dictionary``.

``TransformDictionary``, from meta-optim.
"""

from __future__ import annotations

from meta_optim import TransformDictionary as TransformDictionary

__all__ = ["TransformDictionary"]
