"""learn2learn's ``l2l.nn.misc``.

``Lambda``, ``Flatten``, ``Scale``, ``freeze`` and ``unfreeze``, from meta-nn.
"""

from __future__ import annotations

from meta_nn import Flatten as Flatten
from meta_nn import Lambda as Lambda
from meta_nn import Scale as Scale
from meta_nn import freeze as freeze
from meta_nn import unfreeze as unfreeze

__all__ = ["Flatten", "Lambda", "Scale", "freeze", "unfreeze"]
