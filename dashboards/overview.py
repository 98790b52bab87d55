"""l0 / Overview: traffic, success, latency and tokens."""

from __future__ import annotations

from typing import Any

from l0.telemetry import metric_names as mn

from ._panels import (
    ERRORS_IN_JAEGER,
    Board,
    Query,
    field_label,
    jaeger_link,
    label,
    quantile,
    quantiles,
    rate,
    ratio,
    selector,
    stat_panel,
    timeseries_panel,
)

UID = "l0-overview"

OUTCOME = label(mn.ATTR_OUTCOME)
MODEL = label(mn.ATTR_REQUEST_MODEL)
ERROR_TYPE = label(mn.ATTR_ERROR_TYPE)

SESSIONS_PER_S = rate(mn.SESSIONS)
SUCCESS_RATE = ratio(
    rate(mn.SESSIONS, extra=[f'{OUTCOME}="success"']),
    rate(mn.SESSIONS),
)
IN_FLIGHT = f"sum({selector(mn.ACTIVE_SESSIONS)})"
TOKENS_PER_S = rate(mn.TOKENS)
USAGE = (
    (mn.INPUT_TOKENS, "input"),
    (mn.OUTPUT_TOKENS, "output"),
    (mn.CACHE_READ_INPUT_TOKENS, "input from cache"),
    (mn.REASONING_OUTPUT_TOKENS, "output for reasoning"),
)
PER_ATTEMPT = ((mn.OPERATION_INPUT_TOKENS, "input"), (mn.OPERATION_OUTPUT_TOKENS, "output"))

SUCCESS_THRESHOLDS = ((None, "red"), (0.95, "orange"), (0.99, "green"))


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "l0 / Overview",
        "Sessions, success rate, latency and tokens of l0 sessions (metrics from "
        "l0.telemetry.metric_names). Click a latency exemplar to open its trace in Jaeger.",
    )
    board.row("Sessions").add(
        stat_panel(
            "Sessions/s",
            "Finished l0 sessions per second (l0.sessions).",
            Query(SESSIONS_PER_S),
            "ops",
            decimals=2,
        ),
        stat_panel(
            "Success rate",
            "Share of finished sessions with l0.outcome=success.",
            Query(SUCCESS_RATE),
            "percentunit",
            thresholds=SUCCESS_THRESHOLDS,
            decimals=2,
        ),
        stat_panel(
            "In-flight sessions",
            "Sessions currently running (l0.sessions.active).",
            Query(IN_FLIGHT),
            "short",
        ),
        stat_panel(
            "Retries per session",
            "Retries divided by finished sessions.",
            Query(ratio(rate(mn.RETRIES), SESSIONS_PER_S)),
            "short",
            thresholds=((None, "green"), (0.5, "orange"), (1, "red")),
            decimals=2,
        ),
        stat_panel(
            "Fallbacks per session",
            "Fallback switches divided by finished sessions.",
            Query(ratio(rate(mn.FALLBACKS), SESSIONS_PER_S)),
            "short",
            thresholds=((None, "green"), (0.1, "orange"), (0.5, "red")),
            decimals=2,
        ),
        stat_panel(
            "Tokens/s",
            "Tokens delivered to consumers per second (l0.tokens).",
            Query(TOKENS_PER_S),
            "short",
            decimals=1,
        ),
    )
    board.add(
        timeseries_panel(
            "Sessions/s by outcome",
            "Finished sessions per second by l0.outcome (success, error, aborted).",
            [Query(rate(mn.SESSIONS, OUTCOME), f"{{{{{OUTCOME}}}}}", exemplar=True)],
            "ops",
            stacked=True,
            links=[
                jaeger_link(
                    "Sessions with outcome ${__field.labels." + OUTCOME + "} in Jaeger",
                    {mn.ATTR_OUTCOME: field_label(mn.ATTR_OUTCOME)},
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "Success rate",
            "Share of finished sessions that succeeded (after retries and fallbacks).",
            [Query(SUCCESS_RATE, "success rate")],
            "percentunit",
            max_value=1,
            width=8,
        ),
        timeseries_panel(
            "In-flight sessions",
            "l0.sessions.active: sessions started and not yet finished.",
            [Query(IN_FLIGHT, "in flight")],
            "short",
            width=8,
        ),
    )
    board.row("Latency").add(
        timeseries_panel(
            "Time to first chunk by model (p50/p95/p99)",
            "gen_ai.client.inference.time_to_first_chunk per attempt, by gen_ai.request.model. "
            "Exemplars link to the attempt's trace.",
            quantiles(mn.TIME_TO_FIRST_CHUNK, MODEL),
            "s",
        ),
        timeseries_panel(
            "Time per output chunk by model (p50/p95/p99)",
            "gen_ai.client.inference.time_per_output_chunk: the gap between consecutive chunks "
            "of a stream, by gen_ai.request.model. Recorded only with "
            'l0.instrument(events="all"): per-chunk work the default leaves out.',
            quantiles(mn.TIME_PER_OUTPUT_CHUNK, MODEL),
            "s",
        ),
        timeseries_panel(
            "Attempt duration by model (p50/p95/p99)",
            "gen_ai.client.inference.duration per attempt (first try, retry or fallback), by "
            "gen_ai.request.model.",
            quantiles(mn.INFERENCE_DURATION, MODEL),
            "s",
        ),
        timeseries_panel(
            "Session duration by outcome (p50/p95/p99)",
            "l0.session.duration: the whole session, all retries and fallbacks included, by "
            "l0.outcome (a session may span several models, so it has no model label).",
            quantiles(mn.SESSION_DURATION, OUTCOME),
            "s",
        ),
        timeseries_panel(
            "Failed attempts/s by error.type",
            "Attempts that ended with an error (gen_ai.client.inference.duration with error.type "
            "set), whether or not the session recovered.",
            [
                Query(
                    rate(
                        mn.INFERENCE_DURATION,
                        ERROR_TYPE,
                        suffix="_count",
                        extra=[f'{ERROR_TYPE}!=""'],
                    ),
                    f"{{{{{ERROR_TYPE}}}}}",
                )
            ],
            "ops",
            links=[ERRORS_IN_JAEGER],
        ),
    )
    board.row("Tokens").add(
        timeseries_panel(
            "Tokens/s by model",
            "l0.tokens: tokens delivered to consumers, by gen_ai.request.model.",
            [Query(rate(mn.TOKENS, MODEL), f"{{{{{MODEL}}}}}", exemplar=True)],
            "short",
            stacked=True,
            width=8,
        ),
        timeseries_panel(
            "Token usage/s",
            "gen_ai.client.inference.usage.*: input and output tokens reported by providers, "
            "and the parts of them served from the prompt cache or spent on reasoning.",
            [Query(rate(spec), legend) for spec, legend in USAGE],
            "short",
            width=8,
        ),
        timeseries_panel(
            "Tokens per attempt (p50/p95/p99)",
            "gen_ai.client.inference.operation.input_tokens and .output_tokens: the "
            "distribution per attempt (0 for an attempt whose provider reported no usage).",
            [
                Query(quantile(q, spec), f"p{round(q * 100)} {legend}", exemplar=True)
                for spec, legend in PER_ATTEMPT
                for q in (0.5, 0.95, 0.99)
            ],
            "short",
            width=8,
        ),
    )
    return board.to_json()
