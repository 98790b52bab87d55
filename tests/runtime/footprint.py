"""What one more open session (or engine) holds, counted by reachability: every garbage
collection walks every object that open sessions keep, so with many open their objects
cost time. And what a finished one leaves in reference cycles, which only a collection
frees. Counted, not timed: noise-free."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import types
from collections.abc import Iterator

_SHARED = (type, types.ModuleType, asyncio.AbstractEventLoop, asyncio.Future)


def held(root: object, twin: object) -> int:
    """Objects the collector tracks that `root` reaches and `twin`, made the same way, does
    not: what one more of them holds. Shared things are not followed: classes, modules,
    the event loop and tasks (a session refers to the task consuming it)."""
    gc.collect()  # untracks the tuples that hold only strings and numbers
    modules = {id(vars(module)) for module in list(sys.modules.values())}

    def reach(start: object) -> set[int]:
        seen: set[int] = set()
        todo = [start]
        while todo:
            obj = todo.pop()
            if id(obj) in seen or id(obj) in modules or not gc.is_tracked(obj):
                continue
            if isinstance(obj, _SHARED):
                continue
            seen.add(id(obj))
            todo.extend(gc.get_referents(obj))
        return seen

    return len(reach(root) - reach(twin))


@contextlib.contextmanager
def cycles() -> Iterator[list[str]]:
    """The l0 objects that what runs in the block leaves in reference cycles (class names,
    listed when it ends): drop every reference to what it made before the end."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    left: list[str] = []
    try:
        yield left
        gc.collect()
        left += [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("l0")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
