"""Multi-stream operations, built on `l0.run`: each child is a full session.

`race` runs tasks at once and keeps the first to complete; a `Hedge` makes `l0.run`
start a second stream when the first token is late and keeps whichever speaks first;
`Pool` (under `parallel` and `batched`) runs tasks under a concurrency limit; `consensus`
runs them on a pool and elects the output they agree on; `pipe` runs stages in turn.
They share one core: tasks (`_tasks`), children driven by tasks of their own that can be
cancelled exactly (`_children`), and the operation's span and events above them
(`_operation`). Never inside the session engine: only through `l0.run`'s `start`.
"""

from ._tasks import Task
from .consensus import ConsensusResult, FieldVote, consensus
from .hedge import Hedge
from .parallel import batched, parallel
from .pipe import Pipe, PipeResult, Stage, StageResult, pipe
from .pool import ParallelResult, Pool, TaskResult
from .race import RaceResult, race

__all__ = [
    "ConsensusResult",
    "FieldVote",
    "Hedge",
    "ParallelResult",
    "Pipe",
    "PipeResult",
    "Pool",
    "RaceResult",
    "Stage",
    "StageResult",
    "Task",
    "TaskResult",
    "batched",
    "consensus",
    "parallel",
    "pipe",
    "race",
]
