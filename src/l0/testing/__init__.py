"""Testing tools for applications built on l0: a fault-injecting OpenAI-compatible server.

`FaultServer` serves `POST /v1/chat/completions` in OpenAI's wire format and plays one
scripted `Reply` per request (rate limits, dropped connections, stalls, malformed data,
in-band errors, tool calls), so retries and fallbacks can be tested through the real
client libraries. The pytest plugin `l0.testing.pytest_plugin` provides a `fault_server`
fixture; `l0 chaos` runs the same server as a separate process. See docs/testing.md.
"""

from ._prose import prose_chunks
from ._reply import Reply
from ._script import RecordedRequest
from .server import FaultServer

__all__ = ["FaultServer", "RecordedRequest", "Reply", "prose_chunks"]
