"""`Tap`: what an engine tells, beside the consumer, of the stream it delivers.

The event log's recorder (`l0.run(..., record=)`) is the one tap. It is not a layer
around the session's generator: an extra async-generator hop per token cost more than
the recording itself. The session appends a delivered token's text and time offset to
the tap's open run in its token loop, and hands every other event over as it yields it.
The runtime names only this protocol; the event log implements it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..types import Event, State

__all__ = ["Tap"]


class Tap(Protocol):
    def token_run(self) -> tuple[list[str], list[float], int, float]:
        """For the token loop: the open run's texts and offsets, to append a delivered
        token's text and `time.monotonic() - origin` to; how many texts may wait (at
        that many, the loop calls `flush()`); and the origin."""
        ...

    def event(self, event: Event, state: State) -> None:
        """An event the consumer receives (other than the token loop's own tokens), with
        the state as the consumer finds it then."""
        ...

    def flush(self) -> None:
        """Write what waits."""
        ...

    def end(self, state: State) -> None:
        """The stream ended (any way): the final state; write everything."""
        ...
