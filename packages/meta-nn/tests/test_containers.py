"""Tests of SubDict, DefaultList and MultipleList."""

from __future__ import annotations

import collections
import itertools
import re
import types

import pytest
from meta_nn import DefaultList, MultipleList, SubDict


def test_subdict_seed_example_view_semantics() -> None:
    super_dict = collections.OrderedDict({"a": 1, "b": 2, "c": 3})
    sub_dict = SubDict(super_dict, keys=["b", "a"])
    assert list(sub_dict) == ["a", "b"]  # keep_order: the super dict's order
    assert dict(sub_dict) == {"a": 1, "b": 2}
    assert len(sub_dict) == 2
    assert "c" not in sub_dict
    with pytest.raises(KeyError):
        sub_dict["c"]
    sub_dict["b"] = 20
    assert super_dict["b"] == 20
    sub_dict["d"] = 4
    assert super_dict["d"] == 4
    assert list(sub_dict) == ["a", "b", "d"]
    del sub_dict["a"]
    assert "a" not in super_dict
    assert list(sub_dict) == ["b", "d"]
    sub_dict.update({"c": 30})
    assert list(sub_dict) == ["b", "c", "d"]
    assert repr(sub_dict) == "SubDict({'b': 20, 'c': 30, 'd': 4})"


def test_subdict_order_and_update_keys() -> None:
    super_dict = {"a": 1, "b": 2, "c": 3}
    unordered = SubDict(super_dict, keys=["c", "a", "c"], keep_order=False)
    assert list(unordered) == ["c", "a"]
    del super_dict["c"]
    assert len(unordered) == 1  # a live view: a key deleted from the super dict leaves it
    assert list(unordered) == ["a"]
    super_dict["c"] = 3
    assert list(unordered) == ["c", "a"]  # not forgotten until update_keys()
    del super_dict["c"]
    unordered.update_keys()
    assert list(unordered) == ["a"]
    super_dict["c"] = 3
    assert list(unordered) == ["a"]
    assert "c" not in unordered
    assert list(SubDict(super_dict)) == []


def test_two_subdicts_of_one_dict_always_agree() -> None:
    super_dict = collections.OrderedDict(zip("abcd", range(4), strict=True))
    unordered = SubDict(super_dict, keys=["c", "b", "a"], keep_order=False)
    ordered = SubDict(super_dict, keys=["c", "b", "a"])
    del unordered["a"]
    assert "a" not in super_dict
    assert "a" not in ordered
    assert list(ordered) == ["b", "c"]
    assert len(ordered) == 2
    with pytest.raises(KeyError):
        ordered["a"]
    ordered["e"] = 5
    assert "e" not in unordered
    assert dict(unordered) == {"c": 2, "b": 1}


def test_subdict_bad_inputs() -> None:
    with pytest.raises(
        KeyError,
        match=re.escape(
            "SubDict keys ['z'] are not in the super dict; expected a subset of its 1 keys ['a']"
        ),
    ):
        SubDict({"a": 1}, keys=["z"])
    read_only = SubDict(types.MappingProxyType({"a": 1}), keys=["a"])
    assert read_only["a"] == 1
    with pytest.raises(TypeError, match=r"cannot modify a SubDict of a read-only mappingproxy"):
        read_only["a"] = 2
    with pytest.raises(KeyError):
        del read_only["b"]


def test_defaultlist_growth_fill_and_list_behaviour() -> None:
    rates = DefaultList(factory=lambda: 0.1)
    assert len(rates) == 0
    assert rates[2] == 0.1
    assert rates[:] == [0.1, 0.1, 0.1]
    rates[4] = 0.5
    assert rates[:] == [0.1, 0.1, 0.1, 0.1, 0.5]
    # iteration never ends (MetaNN's zip(grads, velocities) relies on it) and grows the list
    assert list(itertools.islice(rates, 7)) == [0.1, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1]
    assert len(rates) == 7
    assert [g + v for g, v in zip([1.0, 2.0], DefaultList(lambda: 0), strict=False)] == [1.0, 2.0]
    assert rates[4] == 0.5
    assert rates[-1] == 0.1  # the iteration above grew the list to 7 entries
    assert rates[1:3] == [0.1, 0.1]
    with pytest.raises(IndexError):
        DefaultList()[-1]
    filled = DefaultList(fill=[1, 2, 3])
    filled.fill([9])
    assert filled == DefaultList(fill=[9, 2, 3])
    assert filled[4] is None
    assert repr(filled) == "DefaultList([9, 2, 3, None, None])"
    filled.append(7)
    assert len(filled) == 6
    lists = DefaultList(factory=list)
    lists[1].append("x")
    assert lists[:] == [[], ["x"]]
    assert lists[0] is not lists[1]
    with pytest.raises(TypeError, match=r"factory must be callable, got int"):
        DefaultList(factory=3)


def test_multiplelist_multi_index_reads_and_writes() -> None:
    weights = ["w0", "w1", "w2", "w3"]
    view = MultipleList(weights)
    assert view[1] == "w1"
    assert view[[3, 1]] == ["w3", "w1"]
    assert view[(i for i in (0, 2))] == ["w0", "w2"]
    assert view[1:3] == ["w1", "w2"]
    view[[0, 2]] = ["a", "b"]
    view[-1] = "z"
    assert weights == ["a", "w1", "b", "z"]
    assert len(view) == 4
    assert list(view) == weights
    assert repr(view) == "MultipleList(['a', 'w1', 'b', 'z'])"


def test_multiplelist_bad_inputs() -> None:
    view = MultipleList([1, 2, 3])
    with pytest.raises(ValueError, match=re.escape("got 1 values for 2 indices [0, 1]")):
        view[[0, 1]] = [5]
    with pytest.raises(TypeError, match=r"indices must be ints, got \[True\]"):
        view[[True]]
    with pytest.raises(TypeError, match=r"a slice or an iterable of ints, got bool"):
        view[True]
    with pytest.raises(TypeError, match=r"write through a MultipleList of a read-only tuple"):
        MultipleList((1, 2))[0] = 3
    with pytest.raises(TypeError, match=r"MultipleList views a list or other sequence, got str"):
        MultipleList("abc")
