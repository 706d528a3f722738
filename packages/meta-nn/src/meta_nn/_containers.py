"""MetaNN's small containers: SubDict, DefaultList and MultipleList."""

from __future__ import annotations

import itertools
from collections.abc import (
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    MutableSequence,
    Sequence,
)
from typing import Any, Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class SubDict(MutableMapping[K, V]):
    """A live view of some of the keys of a larger dict.

    Reads and writes go through to ``super_dict``: ``sub[key]`` reads ``super_dict[key]``,
    ``sub[key] = value`` writes ``super_dict[key]`` (adding ``key`` to the view), and
    ``del sub[key]`` deletes ``key`` from both. The view always shows those of its keys that
    ``super_dict`` holds right now, so two views of one dict agree after any change made
    through either of them or to ``super_dict`` directly (as MetaNN's views do). Typical use:
    adapt only the head parameters of a parameter dict while the adapted values land in the
    full dict.

    Args:
        super_dict: The dict to view. Writes need a mutable mapping.
        keys: The keys of the view; each must be in ``super_dict``. Duplicates are ignored.
        keep_order: Iterate in ``super_dict``'s order (default); otherwise in the order of
            ``keys`` (keys added later come last).

    Raises:
        KeyError: If a key is not in ``super_dict``.

    Examples:
        >>> import collections
        >>> super_dict = collections.OrderedDict({"a": 1, "b": 2, "c": 3})
        >>> sub_dict = SubDict(super_dict, keys=["b", "a"])
        >>> dict(sub_dict)
        {'a': 1, 'b': 2}
        >>> sub_dict["b"] = 20
        >>> super_dict["b"]
        20
        >>> other = SubDict(super_dict, keys=["a", "b"])
        >>> del other["a"]
        >>> list(sub_dict)
        ['b']
    """

    def __init__(
        self, super_dict: Mapping[K, V], keys: Iterable[K] = (), keep_order: bool = True
    ) -> None:
        self.super_dict = super_dict
        self.keep_order = keep_order
        requested = list(dict.fromkeys(keys))
        unknown = [key for key in requested if key not in super_dict]
        if unknown:
            available = list(super_dict)
            shown = repr(available[:8])[:-1] + (", ...]" if len(available) > 8 else "]")
            raise KeyError(
                f"SubDict keys {unknown!r} are not in the super dict; expected a subset of "
                f"its {len(available)} keys {shown}"
            )
        # insertion-ordered set of the view's keys; the view shows those super_dict holds
        self._keys: dict[K, None] = dict.fromkeys(requested)

    def update_keys(self) -> None:
        """Forget the keys that ``super_dict`` no longer holds.

        The view never shows such keys anyway; once forgotten, they stay out of the view even
        if they are put back into ``super_dict`` directly.

        Examples:
            >>> super_dict = {"a": 1, "b": 2}
            >>> sub_dict = SubDict(super_dict, keys=["a", "b"])
            >>> del super_dict["a"]
            >>> list(sub_dict)
            ['b']
            >>> sub_dict.update_keys()
            >>> super_dict["a"] = 1
            >>> list(sub_dict)
            ['b']
        """
        self._keys = {key: None for key in self._keys if key in self.super_dict}

    def _live_keys(self) -> list[K]:
        if self.keep_order:
            return [key for key in self.super_dict if key in self._keys]
        return [key for key in self._keys if key in self.super_dict]

    def _writable(self) -> MutableMapping[K, V]:
        if not isinstance(self.super_dict, MutableMapping):
            raise TypeError(
                f"cannot modify a SubDict of a read-only {type(self.super_dict).__name__}; "
                f"expected a mutable mapping such as dict"
            )
        return self.super_dict

    def __contains__(self, key: object) -> bool:
        return key in self._keys and key in self.super_dict

    def __getitem__(self, key: K) -> V:
        if key not in self:
            raise KeyError(key)
        return self.super_dict[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._writable()[key] = value
        self._keys[key] = None

    def __delitem__(self, key: K) -> None:
        if key not in self:
            raise KeyError(key)
        del self._writable()[key]
        del self._keys[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._live_keys())

    def __len__(self) -> int:
        return len(self._live_keys())

    def __repr__(self) -> str:
        return f"SubDict({dict(self)!r})"


def _none() -> None:
    return None


class DefaultList(Generic[T]):
    """A list that grows on demand, like ``collections.defaultdict`` for indices.

    Reading or writing a non-negative index at or past the end first appends
    ``factory()`` values up to that index. Negative indices and slices behave as for a
    plain list (no growth). Handy for per-step state whose number of steps is not known up
    front (e.g. per-inner-step learning rates).

    Every index has a value, so iteration never ends (as in MetaNN): it yields entry 0, 1,
    2, ... growing the list as it goes, which is what ``zip(grads, DefaultList(lambda: 0))``
    needs. Bound it with ``zip`` or ``itertools.islice``; ``len`` counts the entries created
    so far.

    Args:
        factory: Zero-argument callable producing the default entry (default: ``None``).
        fill: Optional initial entries, written from index 0 by [`fill`][meta_nn.DefaultList.fill].

    Examples:
        >>> steps = DefaultList(factory=lambda: 0.1)
        >>> steps[2]
        0.1
        >>> len(steps)
        3
        >>> DefaultList(fill=[1, 2])[3] is None
        True
    """

    def __init__(
        self,
        # The default factory makes T None; mypy cannot express a default tied to T.
        factory: Callable[[], T] = _none,  # type: ignore[assignment]
        fill: Iterable[T] | None = None,
    ) -> None:
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
        self.factory = factory
        self._items: list[T] = []
        if fill is not None:
            self.fill(fill)

    def fill(self, data: Iterable[T]) -> None:
        """Write ``data`` into the list from index 0, growing it as needed.

        Entries past ``len(data)`` are kept.

        Args:
            data: The entries to write.

        Examples:
            >>> values = DefaultList(fill=[0, 0, 0])
            >>> values.fill([7, 8])
            >>> values
            DefaultList([7, 8, 0])
        """
        for index, value in enumerate(data):
            self[index] = value

    def _grow(self, index: int) -> None:
        while len(self._items) <= index:
            self._items.append(self.factory())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, int) and index >= 0:
            self._grow(index)
        return self._items[index]

    def __setitem__(self, index: int, value: T) -> None:
        if index >= 0:
            self._grow(index)
        self._items[index] = value

    def append(self, value: T) -> None:
        """Append ``value`` at the end.

        Args:
            value: The entry to append.

        Examples:
            >>> values = DefaultList()
            >>> values.append(1)
            >>> values
            DefaultList([1])
        """
        self._items.append(value)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        """Yield entry 0, 1, 2, ... without end, creating defaults as needed.

        Examples:
            >>> velocities = DefaultList(factory=lambda: 0)
            >>> [g + v for g, v in zip([1.0, 2.0], velocities)]
            [1.0, 2.0]
        """
        return (self[index] for index in itertools.count())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DefaultList):
            return self._items == other._items
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def __repr__(self) -> str:
        return f"DefaultList({self._items!r})"


class MultipleList(Generic[T]):
    """A view of a list that can be indexed with several indices at once.

    ``view[[0, 2]]`` returns ``[lst[0], lst[2]]`` and ``view[[0, 2]] = [a, b]`` writes
    ``lst[0] = a`` and ``lst[2] = b``. Integers and slices work as for ``lst``. Writes go
    through to ``lst``.

    Args:
        lst: The sequence to view (a mutable one for writes).

    Raises:
        TypeError: If ``lst`` is not a sequence.

    Examples:
        >>> weights = ["w0", "w1", "w2", "w3"]
        >>> view = MultipleList(weights)
        >>> view[[3, 1]]
        ['w3', 'w1']
        >>> view[[0, 2]] = ["a", "b"]
        >>> weights
        ['a', 'w1', 'b', 'w3']
    """

    def __init__(self, lst: Sequence[T]) -> None:
        if not isinstance(lst, Sequence) or isinstance(lst, str | bytes):
            raise TypeError(
                f"MultipleList views a list or other sequence, got {type(lst).__name__}"
            )
        self.lst = lst

    @staticmethod
    def _indices(indices: object) -> list[int]:
        if not isinstance(indices, Iterable):
            raise TypeError(
                f"MultipleList index must be an int, a slice or an iterable of ints, got "
                f"{type(indices).__name__}"
            )
        resolved = list(indices)
        wrong = [
            index for index in resolved if isinstance(index, bool) or not isinstance(index, int)
        ]
        if wrong:
            raise TypeError(
                f"MultipleList indices must be ints, got {wrong!r}; to select by a boolean "
                f"mask, pass [i for i, keep in enumerate(mask) if keep]"
            )
        return resolved

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice | Iterable[int]) -> list[T]: ...

    def __getitem__(self, index: int | slice | Iterable[int]) -> T | list[T]:
        if isinstance(index, int) and not isinstance(index, bool):
            return self.lst[index]
        if isinstance(index, slice):
            return list(self.lst[index])
        return [self.lst[i] for i in self._indices(index)]

    @overload
    def __setitem__(self, index: int, value: T) -> None: ...

    @overload
    def __setitem__(self, index: Iterable[int], value: Iterable[T]) -> None: ...

    # The overloads type the two call forms; the implementation takes either value form.
    def __setitem__(self, index: int | Iterable[int], value: Any) -> None:
        target = self.lst
        if not isinstance(target, MutableSequence):
            raise TypeError(
                f"cannot write through a MultipleList of a read-only {type(target).__name__}"
            )
        if isinstance(index, int) and not isinstance(index, bool):
            target[index] = value
            return
        indices = self._indices(index)
        values = list(value)
        if len(values) != len(indices):
            raise ValueError(
                f"MultipleList assignment got {len(values)} values for {len(indices)} indices "
                f"{indices}; expected one value per index"
            )
        for i, entry in zip(indices, values, strict=True):
            target[i] = entry

    def __len__(self) -> int:
        return len(self.lst)

    def __iter__(self) -> Iterator[T]:
        return iter(self.lst)

    def __repr__(self) -> str:
        return f"MultipleList({list(self.lst)!r})"
