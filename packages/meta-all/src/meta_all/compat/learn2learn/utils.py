"""learn2learn's ``l2l.utils``: differentiable module utilities, from meta-functional.

``clone_module``, ``detach_module``, ``update_module`` and ``magic_box`` are
:mod:`meta_functional`'s functions (also available as ``l2l.clone_module`` etc.).
"""

from __future__ import annotations

from meta_functional import clone_module as clone_module
from meta_functional import detach_module as detach_module
from meta_functional import magic_box as magic_box
from meta_functional import update_module as update_module

__all__ = ["clone_module", "detach_module", "magic_box", "update_module"]
