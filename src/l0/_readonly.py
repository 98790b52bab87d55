"""Empty containers that refuse to change: the parts of a result shared by every quiet check.

A check that finds nothing returns one shared result instead of building one per check
(building it would cost more than the check). Its list and dict must then stay empty for
everyone: a caller that appends to them gets a TypeError telling it to copy first.
"""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")


def _read_only(self: object, *args: object, **kwargs: object) -> Any:
    raise TypeError(f"this {type(self).__mro__[1].__name__} is shared and read-only; copy it first")


class ReadOnlyList(list[_T]):
    __slots__ = ()

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only


class ReadOnlyDict(dict[_K, _V]):
    __slots__ = ()

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only
