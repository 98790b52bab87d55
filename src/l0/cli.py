"""The `l0` command line.

Each subcommand is a `_add_<name>` function that registers its parser and handler, so
adding one is a function plus a line in `_COMMANDS`. Handlers import what they need
themselves, keeping `l0 --help` fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l0.eventlog import EventStore
    from l0.testing import Reply

__all__ = ["main"]

_Handler = Callable[[argparse.Namespace], int]

# Varied short words, so a long default stream does not look like a repetition loop.


def main(argv: list[str] | None = None) -> int:
    """Run the `l0` command line; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: _Handler = args.handler
    return handler(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l0", description="l0: reliable LLM token streams.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(commands)
    return parser


# -- l0 chaos ------------------------------------------------------------------------------


def _add_chaos(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chaos = commands.add_parser(
        "chaos",
        help="run the fault-injecting OpenAI-compatible server",
        description=(
            "Serve POST /v1/chat/completions with scripted faults. Script it with "
            "POST /_l0/script {'model': ..., 'replies': [{Reply fields}]}, clear it with "
            "POST /_l0/reset, read what it served with GET /_l0/requests."
        ),
    )
    chaos.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    chaos.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    default = chaos.add_mutually_exclusive_group()
    default.add_argument("--text", help="text of the default reply")
    default.add_argument(
        "--tokens", type=int, metavar="N", help="default reply of N tokens of realistic prose"
    )
    chaos.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between chunks of the default"
    )
    chaos.set_defaults(handler=_run_chaos)


def _run_chaos(args: argparse.Namespace) -> int:
    # KeyboardInterrupt only where signal handlers are unavailable (Windows).
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, _default_reply(args)))
    return 0


def _default_reply(args: argparse.Namespace) -> Reply:
    from l0.testing import Reply

    if args.tokens is None:
        text = args.text or "Hello from the l0 fault server."
        return Reply(text=text, chunk_delay=args.chunk_delay)
    from l0.testing import prose_chunks

    chunks = prose_chunks(args.tokens)
    return Reply(chunks=chunks, empty=not chunks, chunk_delay=args.chunk_delay)


async def _serve(host: str, port: int, default: Reply) -> None:
    from l0.testing import FaultServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with FaultServer(host, port, default=default) as server:
        # A parent process reads this line to learn the port (with --port 0).
        print(f"l0 chaos: serving {server.url}", flush=True)
        await stop.wait()
    print("l0 chaos: stopped", file=sys.stderr, flush=True)


# -- l0 replay -----------------------------------------------------------------------------


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="print a recorded session as it streamed",
        description=(
            "Replay a session recorded with l0.run(..., record=store) from a SQLite file "
            "(create_sqlite_event_store) or a .jsonl file (create_jsonl_event_store)."
        ),
    )
    replay.add_argument("file", help="the event store file")
    replay.add_argument("--stream-id", help="the recording to replay (default: the last one)")
    replay.add_argument(
        "--speed", type=float, default=1.0, help="1 keeps the recorded timing, 0 prints at once"
    )
    replay.set_defaults(handler=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from l0.eventlog import open_event_store

    try:
        return asyncio.run(_print_replay(open_event_store(args.file), args.stream_id, args.speed))
    except (FileNotFoundError, ValueError) as exc:
        print(f"l0 replay: {exc}", file=sys.stderr)
        return 2


async def _print_replay(store: EventStore, stream_id: str | None, speed: float) -> int:
    import l0
    from l0.demo import print_stream

    result = await l0.replay(stream_id, event_store=store, speed=speed)
    print(f"▶ replay of {result.session_id}")
    await print_stream(result)
    state = result.state
    print(
        f"  {result.outcome}: {state.token_count} tokens, {state.attempt} attempt(s), "
        f"{state.retry_count} retries, fallback {state.fallback_index}, "
        f"{len(state.violations)} guardrail violation(s)"
    )
    return 0 if result.outcome == "success" else 1


_COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_chaos,
    _add_replay,
)

if __name__ == "__main__":
    raise SystemExit(main())
