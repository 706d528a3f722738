"""MetaNN's ``metann.utils.numpy``: ``to_array``. Needs NumPy, which meta-all does not install."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["to_array"]


def _import_numpy(user: str) -> ModuleType:
    """Import NumPy for ``user``, or raise an ImportError that says how to get it."""
    try:
        return importlib.import_module("numpy")
    except ImportError as error:
        raise ImportError(
            f"{user} needs NumPy, which meta-all does not install: pip install numpy"
        ) from error


def to_array(lst: Sequence[Any]) -> Any:
    """Return a one-dimensional NumPy object array holding the entries of ``lst``.

    Args:
        lst: Any sequence; its entries are stored as they are (tensors are not converted).

    Returns:
        A ``numpy.ndarray`` of ``dtype=object`` and shape ``(len(lst),)``.

    Raises:
        ImportError: If NumPy is not installed.

    Examples:
        >>> import torch
        >>> array = to_array([torch.zeros(2), torch.ones(3)])
        >>> array.shape, array.dtype
        ((2,), dtype('O'))
    """
    numpy = _import_numpy("to_array")
    array = numpy.empty(len(lst), dtype=object)
    for index, entry in enumerate(lst):
        array[index] = entry
    return array
