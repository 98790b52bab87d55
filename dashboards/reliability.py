"""l0 / Reliability: SLOs, retries, fallbacks, timeouts, guardrails, drift, checkpoints, waste,
races and hedges."""

from __future__ import annotations

from typing import Any

from slo import rules as slo

from l0.telemetry import metric_names as mn

from ._panels import (
    ERRORS_IN_JAEGER,
    RECORDED_SERVICE,
    Board,
    Query,
    field_label,
    increase,
    jaeger_link,
    label,
    quantile,
    rate,
    ratio,
    stat_panel,
    timeseries_panel,
)

UID = "l0-reliability"

REASON = label(mn.ATTR_RETRY_REASON)
CATEGORY = label(mn.ATTR_ERROR_CATEGORY)
COUNTS = label(mn.ATTR_RETRY_COUNTS_TOWARD_LIMIT)
FALLBACK_INDEX = label(mn.ATTR_FALLBACK_INDEX)
TIMEOUT_TYPE = label(mn.ATTR_TIMEOUT_TYPE)
RULE = label(mn.ATTR_GUARDRAIL_RULE)
SEVERITY = label(mn.ATTR_GUARDRAIL_SEVERITY)
DRIFT_TYPE = label(mn.ATTR_DRIFT_TYPE)
MODEL = label(mn.ATTR_REQUEST_MODEL)
WASTE_REASON = label(mn.ATTR_WASTE_REASON)
MULTI_KIND = label(mn.ATTR_MULTI_KIND)
STRATEGY = label(mn.ATTR_CONSENSUS_STRATEGY)
LOSER_WASTE = (
    f'{WASTE_REASON}=~"{"|".join(r for r in mn.WASTE_REASONS if r not in ("retry", "fallback"))}"'
)
"""Waste of multi-stream operations: the streams they cancelled (race_loser, hedge_loser,
discarded)."""
SLO = "{{slo}}"


def _recorded(name: str) -> str:
    return f"{name}{{{RECORDED_SERVICE}}}"


RETRIED_IN_JAEGER = jaeger_link(
    "Retried attempts in Jaeger", {"l0.is_retry": "true"}, operation=None
)


def _legend(*labels: str) -> str:
    return " ".join(f"{{{{{name}}}}}" for name in labels)


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "l0 / Reliability",
        "What l0 did to keep streams reliable: retries, fallbacks, timeouts, guardrail "
        "violations, drift detections, checkpoints and resumes. Counter exemplars link to traces.",
    )
    totals = [
        ("Retries", mn.RETRIES, "orange"),
        ("Fallbacks", mn.FALLBACKS, "orange"),
        ("Timeouts", mn.TIMEOUTS, "orange"),
        ("Guardrail violations", mn.GUARDRAIL_VIOLATIONS, "red"),
        ("Drift detections", mn.DRIFT_DETECTIONS, "red"),
        ("Resumes", mn.RESUMES, "blue"),
    ]
    board.row("In the selected time range").add(
        *(
            stat_panel(
                title,
                f"Total {spec.name} in the dashboard's time range.",
                Query(increase(spec)),
                "short",
                thresholds=((None, "green"), (1, color)),
                decimals=0,
            )
            for title, spec, color in totals
        )
    )
    board.row("SLOs (rules: collector/l0-slo-rules.yaml, from slo/objectives.yaml)").add(
        timeseries_panel(
            "SLIs vs objective (1h)",
            "Good share of each SLO over the last hour (sessions that ended OK; first chunks "
            "in time; tokens not wasted) against its objective. Recorded by the SLO rules, "
            "which Prometheus must load.",
            [
                Query(f"1 - {_recorded(slo.error_ratio_record('1h'))}", SLO),
                Query(slo.OBJECTIVE + '{slo!=""}', f"{SLO} objective"),
            ],
            "percentunit",
            width=10,
        ),
        stat_panel(
            "Error budget left (30d)",
            "Share of each SLO's error budget for the period that is not spent yet; below 0 "
            "the objective is missed.",
            Query(_recorded(slo.BUDGET_REMAINING), SLO),
            "percentunit",
            thresholds=((None, "red"), (0, "orange"), (0.25, "green")),
            width=6,
            height=8,
        ),
        timeseries_panel(
            "Burn rate (1h, 6h)",
            "How fast each SLO spends its error budget: 1 uses it up exactly in the period. "
            "The page alerts fire above 14.4 (1h and 5m) and 6 (6h and 30m), the ticket "
            "above 1 (3d and 6h).",
            [
                Query(_recorded(slo.burn_rate_record("1h")), f"{SLO} 1h"),
                Query(_recorded(slo.burn_rate_record("6h")), f"{SLO} 6h"),
            ],
            "short",
            width=8,
        ),
    )
    board.row("Retries").add(
        timeseries_panel(
            "Retries/s by reason",
            "l0.retries by l0.retry.reason (http_429, http_503, timeouts, network errors, "
            "guardrail violations, drift...).",
            [Query(rate(mn.RETRIES, REASON), _legend(REASON), exemplar=True)],
            "ops",
            stacked=True,
            links=[RETRIED_IN_JAEGER],
            width=8,
        ),
        timeseries_panel(
            "Retries/s by error category",
            "l0.retries by l0.error.category; `counts toward limit` says whether the retry used "
            "up the model `attempts` budget (model/content errors) or only `max_retries` "
            "(network/transient errors).",
            [
                Query(
                    rate(mn.RETRIES, CATEGORY, COUNTS),
                    f"{{{{{CATEGORY}}}}} (counts toward limit: {{{{{COUNTS}}}}})",
                    exemplar=True,
                )
            ],
            "ops",
            stacked=True,
            links=[RETRIED_IN_JAEGER],
            width=8,
        ),
        timeseries_panel(
            "Retries per session",
            "Retries divided by finished sessions.",
            [Query(ratio(rate(mn.RETRIES), rate(mn.SESSIONS)), "retries per session")],
            "short",
            width=8,
        ),
    )
    board.row("Fallbacks").add(
        timeseries_panel(
            "Fallback rate",
            "Fallback switches per finished session.",
            [Query(ratio(rate(mn.FALLBACKS), rate(mn.SESSIONS)), "fallbacks per session")],
            "percentunit",
            width=8,
        ),
        timeseries_panel(
            "Fallbacks/s by depth",
            "l0.fallbacks by l0.fallback.index: 1 = first fallback, 2 = second, ...",
            [
                Query(
                    rate(mn.FALLBACKS, FALLBACK_INDEX),
                    f"fallback #{{{{{FALLBACK_INDEX}}}}}",
                    exemplar=True,
                )
            ],
            "ops",
            stacked=True,
            links=[
                jaeger_link(
                    "Attempts on this fallback in Jaeger",
                    {mn.ATTR_FALLBACK_INDEX: field_label(mn.ATTR_FALLBACK_INDEX)},
                    operation=None,
                )
            ],
            width=8,
        ),
        timeseries_panel(
            "Attempts/s by model",
            "Every attempt (first try, retry, fallback) by gen_ai.request.model: traffic moving "
            "to fallback models shows here.",
            [Query(rate(mn.INFERENCE_DURATION, MODEL, suffix="_count"), _legend(MODEL))],
            "ops",
            stacked=True,
            width=8,
        ),
    )
    board.row("Timeouts, guardrails and drift").add(
        timeseries_panel(
            "Timeouts/s by type",
            "l0.timeouts by l0.timeout.type: initial (no first token in time) or inter "
            "(stall between tokens).",
            [Query(rate(mn.TIMEOUTS, TIMEOUT_TYPE), _legend(TIMEOUT_TYPE), exemplar=True)],
            "ops",
            stacked=True,
            links=[ERRORS_IN_JAEGER],
            width=8,
        ),
        timeseries_panel(
            "Guardrail violations/s by rule",
            "l0.guardrail.violations by l0.guardrail.rule and l0.guardrail.severity.",
            [
                Query(
                    rate(mn.GUARDRAIL_VIOLATIONS, RULE, SEVERITY),
                    f"{{{{{RULE}}}}} ({{{{{SEVERITY}}}}})",
                    exemplar=True,
                )
            ],
            "ops",
            stacked=True,
            links=[ERRORS_IN_JAEGER],
            width=8,
        ),
        timeseries_panel(
            "Drift detections/s by type",
            "l0.drift.detections by l0.drift.type.",
            [Query(rate(mn.DRIFT_DETECTIONS, DRIFT_TYPE), _legend(DRIFT_TYPE), exemplar=True)],
            "ops",
            stacked=True,
            links=[ERRORS_IN_JAEGER],
            width=8,
        ),
    )
    board.row("Checkpoints and resumes").add(
        timeseries_panel(
            "Checkpoints and resumes/s",
            "l0.checkpoints saved and l0.resumes (continuations from the last good checkpoint).",
            [
                Query(rate(mn.CHECKPOINTS), "checkpoints", exemplar=True),
                Query(rate(mn.RESUMES), "resumes", exemplar=True),
            ],
            "ops",
        ),
        timeseries_panel(
            "Resumes per retry",
            "Share of retries that continued from a checkpoint instead of starting over.",
            [Query(ratio(rate(mn.RESUMES), rate(mn.RETRIES)), "resumes per retry")],
            "percentunit",
        ),
    )
    board.row("Cost of reliability").add(
        timeseries_panel(
            "Wasted tokens/s by reason",
            "l0.tokens.wasted: tokens delivered and then dropped by a retry or a fallback "
            "(everything after the last checkpoint), by l0.waste.reason.",
            [Query(rate(mn.TOKENS_WASTED, WASTE_REASON), _legend(WASTE_REASON), exemplar=True)],
            "short",
            stacked=True,
            links=[RETRIED_IN_JAEGER],
        ),
        timeseries_panel(
            "Wasted share of delivered tokens by model",
            "l0.tokens.wasted over l0.tokens, by the model that delivered them.",
            [
                Query(
                    ratio(rate(mn.TOKENS_WASTED, MODEL), rate(mn.TOKENS, MODEL)),
                    _legend(MODEL),
                )
            ],
            "percentunit",
        ),
    )
    _multi_stream(board)
    return board.to_json()


MULTI_IN_JAEGER = [
    jaeger_link("Races in Jaeger", operation="l0.race"),
    jaeger_link("Hedged runs in Jaeger", operation="l0.hedge"),
]


def _multi_stream(board: Board) -> None:
    """Races and hedges: who won, what it cost in extra streams and in their tokens; how
    far consensus tasks agreed."""
    board.row("Multi-stream (race, hedge, consensus)").add(
        timeseries_panel(
            "Wins/s by model",
            "l0.multi.wins: races and hedged runs won, by l0.multi.kind and the winning "
            "stream's gen_ai.request.model.",
            [Query(rate(mn.MULTI_WINS, MULTI_KIND, MODEL), _legend(MULTI_KIND, MODEL))],
            "ops",
            stacked=True,
            links=MULTI_IN_JAEGER,
            width=6,
        ),
        timeseries_panel(
            "Hedges started/s",
            "l0.hedges: hedge streams started because no first token came within `after` "
            "(each an extra request), against the hedged runs that won.",
            [
                Query(rate(mn.HEDGES), "hedges started", exemplar=True),
                Query(rate(mn.MULTI_WINS, extra=[f'{MULTI_KIND}="hedge"']), "hedged runs won"),
            ],
            "ops",
            links=MULTI_IN_JAEGER[1:],
            width=6,
        ),
        timeseries_panel(
            "Streams cancelled/s by kind",
            "l0.streams.cancelled: child sessions closed because another stream won (or "
            "the operation was cancelled), by l0.multi.kind.",
            [Query(rate(mn.STREAMS_CANCELLED, MULTI_KIND), _legend(MULTI_KIND), exemplar=True)],
            "ops",
            stacked=True,
            links=MULTI_IN_JAEGER,
            width=6,
        ),
        timeseries_panel(
            "Tokens wasted by losers/s",
            "l0.tokens.wasted of cancelled streams (race_loser, hedge_loser, discarded), by "
            "reason and the loser's model: the price of the latency. A hedge's loser has "
            "delivered no token, so hedging costs requests, not tokens.",
            [
                Query(
                    rate(mn.TOKENS_WASTED, WASTE_REASON, MODEL, extra=[LOSER_WASTE]),
                    _legend(WASTE_REASON, MODEL),
                    exemplar=True,
                )
            ],
            "short",
            stacked=True,
            links=MULTI_IN_JAEGER,
            width=6,
        ),
        timeseries_panel(
            "Consensus agreement by strategy",
            "l0.consensus.agreement: the share of the tasks' weight behind each consensus "
            "output (1 = all agreed), by l0.consensus.strategy. The low quantile shows the "
            "calls where the models disagreed.",
            [
                Query(quantile(q, mn.CONSENSUS_AGREEMENT, STRATEGY), legend, exemplar=True)
                for q, legend in (
                    (0.5, f"p50 {_legend(STRATEGY)}"),
                    (0.1, f"p10 {_legend(STRATEGY)}"),
                )
            ],
            "percentunit",
            links=[jaeger_link("Consensus calls in Jaeger", operation="l0.consensus")],
            max_value=1,
        ),
    )
