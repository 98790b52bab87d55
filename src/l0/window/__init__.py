"""Document windows: long text cut into model-sized chunks, a session per chunk."""

from __future__ import annotations

from .document import ChunkResult, DocumentWindow, WindowChunk, create_window
from .tokens import estimate_tokens

__all__ = ["ChunkResult", "DocumentWindow", "WindowChunk", "create_window", "estimate_tokens"]
