"""Retry policy units: backoff bounds, presets, budget accounting, and the classification
of real openai / httpx / litellm exception instances (DESIGN §3)."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import litellm
import openai
import pydantic
import pytest
from litellm.exceptions import MidStreamFallbackError

import l0
from l0 import BackoffStrategy, ErrorCategory, ErrorCode, L0Error, categorize_error
from l0.errors import RetryDecision, classify_error
from l0.runtime.retry import RetryBudget

REQUEST = httpx.Request("POST", "http://x/v1/chat/completions")


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, request=REQUEST, headers=headers)


# -- backoff ---------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(8))
def test_exponential_doubles_up_to_the_cap(index: int) -> None:
    retry = l0.Retry(base_delay=0.5, max_delay=10.0, strategy=BackoffStrategy.EXPONENTIAL)
    assert retry.delay(index) == min(10.0, 0.5 * 2**index)


@pytest.mark.parametrize("index", range(8))
def test_linear_grows_by_base_up_to_the_cap(index: int) -> None:
    retry = l0.Retry(base_delay=0.5, max_delay=2.0, strategy="linear")
    assert retry.delay(index) == min(2.0, 0.5 * (index + 1))


@pytest.mark.parametrize("index", range(8))
def test_fixed_is_always_base(index: int) -> None:
    retry = l0.Retry(base_delay=0.3, max_delay=5.0, strategy="fixed")
    assert retry.delay(index) == 0.3


@pytest.mark.parametrize("index", range(8))
def test_full_jitter_stays_within_zero_and_the_exponential(index: int) -> None:
    retry = l0.Retry(base_delay=0.5, max_delay=4.0, strategy=BackoffStrategy.FULL_JITTER)
    random.seed(index)
    ceiling = min(4.0, 0.5 * 2**index)
    delays = [retry.delay(index) for _ in range(200)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > 0, "jitter varies"


@pytest.mark.parametrize("index", range(8))
def test_fixed_jitter_stays_within_half_and_the_exponential(index: int) -> None:
    retry = l0.Retry(base_delay=0.5, max_delay=4.0, strategy=BackoffStrategy.FIXED_JITTER)
    random.seed(index)
    ceiling = min(4.0, 0.5 * 2**index)
    delays = [retry.delay(index) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)


def test_zero_delays_never_wait() -> None:
    retry = l0.Retry(base_delay=0.0, max_delay=0.0)
    assert {retry.delay(i) for i in range(10)} == {0.0}


def test_retry_after_replaces_backoff_and_is_capped() -> None:
    retry = l0.Retry(base_delay=0.0, max_delay=0.0, max_retry_after=2.0)
    assert retry.delay(0, retry_after=1.5) == 1.5
    assert retry.delay(3, retry_after=0.0) == 0.0
    assert retry.delay(0, retry_after=60.0) == 2.0


# -- presets ---------------------------------------------------------------------------


def test_presets() -> None:
    none = l0.Retry.none()
    assert (none.attempts, none.max_retries) == (1, 0)
    minimal = l0.Retry.minimal()
    assert (minimal.attempts, minimal.max_retries) == (2, 2)
    assert minimal.base_delay <= minimal.max_delay
    assert l0.Retry.recommended() == l0.Retry()
    default = l0.Retry()
    assert (default.attempts, default.max_retries) == (3, 6)
    assert default.strategy is BackoffStrategy.FIXED_JITTER
    strict = l0.Retry.strict()
    assert strict.strategy is BackoffStrategy.FULL_JITTER
    assert strict.max_retries > default.max_retries
    assert l0.Retry.exponential().strategy is BackoffStrategy.EXPONENTIAL


def test_max_attempts_is_another_name_for_attempts() -> None:
    assert l0.Retry(max_attempts=5).attempts == 5
    assert l0.Retry(attempts=5, max_attempts=5).attempts == 5


def test_retry_is_immutable() -> None:
    retry = l0.Retry()
    with pytest.raises(AttributeError):
        retry.attempts = 10  # type: ignore[misc]


# -- budget ----------------------------------------------------------------------------

NETWORK = RetryDecision(ErrorCategory.NETWORK, "reset", True, False, True)
MODEL = RetryDecision(ErrorCategory.MODEL, "malformed_chunk", True, True, True)
FATAL = RetryDecision(ErrorCategory.FATAL, "http_401", False, False, True)


def spend_while_allowed(budget: RetryBudget, decisions: list[RetryDecision]) -> int:
    spent = 0
    for decision in decisions:
        if not budget.allows(decision):
            break
        budget.spend(decision)
        spent += 1
    return spent


def test_network_retries_count_toward_max_retries_only() -> None:
    budget = RetryBudget(l0.Retry(attempts=1, max_retries=4))
    assert spend_while_allowed(budget, [NETWORK] * 10) == 4
    assert (budget.network_retries, budget.model_retries) == (4, 0)


def test_model_retries_count_toward_attempts() -> None:
    budget = RetryBudget(l0.Retry(attempts=3, max_retries=10))
    # attempts=3: two retries after the first try.
    assert spend_while_allowed(budget, [MODEL] * 10) == 2
    assert (budget.network_retries, budget.model_retries) == (0, 2)


def test_network_retries_do_not_use_up_attempts() -> None:
    budget = RetryBudget(l0.Retry(attempts=2, max_retries=10))
    assert spend_while_allowed(budget, [NETWORK, NETWORK, NETWORK, MODEL, MODEL]) == 4
    assert (budget.network_retries, budget.model_retries) == (3, 1)


def test_max_retries_caps_every_kind() -> None:
    budget = RetryBudget(l0.Retry(attempts=10, max_retries=3))
    assert spend_while_allowed(budget, [MODEL, NETWORK, MODEL, NETWORK, MODEL]) == 3
    assert budget.total == 3


def test_non_retryable_decisions_are_never_allowed() -> None:
    assert not RetryBudget(l0.Retry(max_retries=100)).allows(FATAL)


def test_spend_returns_the_policy_delay_or_retry_after() -> None:
    policy = l0.Retry(base_delay=0.25, max_delay=1.0, strategy="exponential", max_retry_after=5)
    budget = RetryBudget(policy)
    assert budget.spend(NETWORK) == 0.25
    assert budget.spend(MODEL) == 0.5
    asked = RetryDecision(ErrorCategory.TRANSIENT, "http_429", True, False, True, 9.0, 429)
    assert budget.spend(asked) == 5.0


# -- classification of real exception instances ----------------------------------------


def check(
    error: BaseException,
    category: ErrorCategory,
    *,
    retry: bool,
    attempts: bool = False,
    fallback: bool | None = None,
    after: float | None = None,
    status: int | None = None,
    reason: str | None = None,
) -> RetryDecision:
    decision = classify_error(error)
    assert decision.category is category, decision
    assert categorize_error(error) is category
    assert decision.retry is retry, decision
    assert decision.counts_toward_attempts is attempts, decision
    if fallback is not None:
        assert decision.fallback is fallback, decision
    assert decision.retry_after == after
    assert decision.status_code == status
    if reason is not None:
        assert decision.reason == reason
    return decision


def test_openai_rate_limit_with_retry_after_ms() -> None:
    error = openai.RateLimitError(
        "slow down", response=response(429, **{"retry-after-ms": "150"}), body=None
    )
    check(error, ErrorCategory.TRANSIENT, retry=True, after=0.15, status=429, reason="http_429")


def test_openai_rate_limit_with_retry_after_seconds() -> None:
    error = openai.RateLimitError(
        "slow down", response=response(429, **{"retry-after": "2"}), body=None
    )
    check(error, ErrorCategory.TRANSIENT, retry=True, after=2.0, status=429)


def test_retry_after_ms_wins_over_retry_after() -> None:
    headers = {"retry-after": "20", "retry-after-ms": "50"}
    error = openai.RateLimitError("slow down", response=response(429, **headers), body=None)
    assert classify_error(error).retry_after == 0.05


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    error = openai.RateLimitError("x", response=response(429, **{"retry-after": "soon"}), body=None)
    check(error, ErrorCategory.TRANSIENT, retry=True, after=None, status=429)


def test_retry_after_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    error = openai.RateLimitError("x", response=response(429, **{"retry-after": when}), body=None)
    after = classify_error(error).retry_after
    assert after is not None and 25 <= after <= 30


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (openai.InternalServerError, 500),
        (openai.InternalServerError, 503),
        (openai.APIStatusError, 502),
    ],
)
def test_openai_5xx_is_transient(cls: type[openai.APIStatusError], status: int) -> None:
    error = cls("server", response=response(status), body=None)
    check(error, ErrorCategory.TRANSIENT, retry=True, status=status)


@pytest.mark.parametrize(
    ("cls", "status"),
    [(openai.AuthenticationError, 401), (openai.PermissionDeniedError, 403)],
)
def test_401_403_are_fatal_but_may_fall_back(cls: type[Exception], status: int) -> None:
    error = cls("denied", response=response(status), body=None)
    check(error, ErrorCategory.FATAL, retry=False, fallback=True, status=status)


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (openai.BadRequestError, 400),
        (openai.NotFoundError, 404),
        (openai.UnprocessableEntityError, 422),
    ],
)
def test_400_404_422_are_not_retried(cls: type[Exception], status: int) -> None:
    error = cls("nope", response=response(status), body=None)
    check(error, ErrorCategory.PROVIDER, retry=False, status=status)


def test_context_length_400_goes_to_fallback() -> None:
    body = {"message": "too long", "code": "context_length_exceeded", "type": "invalid_request"}
    error = openai.BadRequestError("too long", response=response(400), body=body)
    check(error, ErrorCategory.PROVIDER, retry=False, fallback=True, status=400)
    assert classify_error(error).reason == "context_length"


def test_context_length_is_recognised_by_message_too() -> None:
    message = "This model's maximum context length is 8192 tokens"
    error = openai.BadRequestError(message, response=response(400), body=None)
    assert classify_error(error).reason == "context_length"


@pytest.mark.parametrize(
    "error",
    [
        openai.APIConnectionError(request=REQUEST),
        openai.APITimeoutError(request=REQUEST),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.ReadError("reset"),
        ConnectionResetError(104, "Connection reset by peer"),
        asyncio.IncompleteReadError(b"", 10),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_and_protocol_errors_are_network(error: BaseException) -> None:
    check(error, ErrorCategory.NETWORK, retry=True)


def test_network_error_wrapped_by_a_plain_exception() -> None:
    try:
        try:
            raise httpx.RemoteProtocolError("incomplete chunked read")
        except httpx.RemoteProtocolError as inner:
            raise RuntimeError("stream failed") from inner
    except RuntimeError as outer:
        check(outer, ErrorCategory.NETWORK, retry=True, reason="RemoteProtocolError")


def test_in_band_server_error_is_transient() -> None:
    body = {"message": "The server had an error", "type": "server_error", "code": "server_error"}
    error = openai.APIError("The server had an error", REQUEST, body=body)
    check(error, ErrorCategory.TRANSIENT, retry=True, reason="server_error")


def test_other_in_band_errors_are_model_errors() -> None:
    error = openai.APIError("bad output", REQUEST, body={"code": "invalid_output"})
    check(error, ErrorCategory.MODEL, retry=True, attempts=True)


def test_malformed_chunks_are_model_errors() -> None:
    try:
        json.loads('{"choices": [')
    except json.JSONDecodeError as error:
        check(error, ErrorCategory.MODEL, retry=True, attempts=True, reason="malformed_chunk")

    class Chunk(pydantic.BaseModel):
        id: str

    try:
        Chunk.model_validate({"id": 3})
    except pydantic.ValidationError as error:
        check(error, ErrorCategory.MODEL, retry=True, attempts=True)


def test_unknown_errors_raised_by_l0_are_internal_and_not_retried() -> None:
    with pytest.raises(TypeError) as caught:
        l0.Retry(attempts="3")  # type: ignore[arg-type]
    check(caught.value, ErrorCategory.INTERNAL, retry=False, fallback=False)


def test_unknown_errors_from_elsewhere_are_model_errors() -> None:
    # A stream's own exception (docs/errors.md "Exceptions from your stream").
    check(KeyError("x"), ErrorCategory.MODEL, retry=True, attempts=True, reason="stream_error")


def test_cancellation_is_fatal_without_fallback() -> None:
    check(asyncio.CancelledError(), ErrorCategory.FATAL, retry=False, fallback=False)


@pytest.mark.parametrize(
    ("code", "category", "retry", "attempts"),
    [
        (ErrorCode.INITIAL_TOKEN_TIMEOUT, ErrorCategory.NETWORK, True, False),
        (ErrorCode.INTER_TOKEN_TIMEOUT, ErrorCategory.NETWORK, True, False),
        (ErrorCode.ZERO_OUTPUT, ErrorCategory.TRANSIENT, True, False),
        (ErrorCode.GUARDRAIL_VIOLATION, ErrorCategory.CONTENT, True, True),
        (ErrorCode.DRIFT_DETECTED, ErrorCategory.CONTENT, True, True),
        (ErrorCode.FATAL_GUARDRAIL_VIOLATION, ErrorCategory.FATAL, False, False),
        (ErrorCode.STREAM_ABORTED, ErrorCategory.FATAL, False, False),
        (ErrorCode.INVALID_STREAM, ErrorCategory.INTERNAL, False, False),
        (ErrorCode.ADAPTER_NOT_FOUND, ErrorCategory.INTERNAL, False, False),
    ],
)
def test_l0_errors_follow_their_code(
    code: ErrorCode, category: ErrorCategory, retry: bool, attempts: bool
) -> None:
    error = L0Error("x", code)
    assert error.category is category
    check(error, category, retry=retry, attempts=attempts)


def test_aborts_and_fatal_violations_never_fall_back() -> None:
    for code in (ErrorCode.STREAM_ABORTED, ErrorCode.FATAL_GUARDRAIL_VIOLATION):
        assert not classify_error(L0Error("x", code)).fallback


# litellm: its exceptions subclass openai's, and some carry misleading status codes.


def test_litellm_rate_limit_honours_retry_after() -> None:
    error = litellm.RateLimitError(
        "slow down", "openai", "m", response=response(429, **{"retry-after": "2"})
    )
    check(error, ErrorCategory.TRANSIENT, retry=True, after=2.0, status=429)


def test_litellm_service_unavailable_is_transient() -> None:
    error = litellm.ServiceUnavailableError("down", "openai", "m", response=response(503))
    check(error, ErrorCategory.TRANSIENT, retry=True, status=503)


def test_litellm_context_window_goes_to_fallback() -> None:
    error = litellm.ContextWindowExceededError("too long", "m", "openai", response=response(400))
    check(error, ErrorCategory.PROVIDER, retry=False, fallback=True, status=400)
    assert classify_error(error).reason == "context_length"


def test_litellm_authentication_is_fatal() -> None:
    error = litellm.AuthenticationError("no", "openai", "m", response=response(401))
    check(error, ErrorCategory.FATAL, retry=False, fallback=True, status=401)


def test_litellm_connection_error_is_network_despite_its_status_500() -> None:
    error = litellm.APIConnectionError("refused", "openai", "m", request=REQUEST)
    assert error.status_code == 500
    check(error, ErrorCategory.NETWORK, retry=True)


def test_litellm_timeout_is_network() -> None:
    error = litellm.Timeout("timed out", "m", "openai")
    check(error, ErrorCategory.NETWORK, retry=True)


def test_litellm_mid_stream_connection_failure_is_network() -> None:
    inner = litellm.APIConnectionError(
        "Response payload is not completed", "openai", "m", request=REQUEST
    )
    error = MidStreamFallbackError("mid-stream", "m", "openai", original_exception=inner)
    check(error, ErrorCategory.NETWORK, retry=True)


def test_categorize_error_is_public(request: Any) -> None:
    assert l0.categorize_error(httpx.ReadTimeout("t")) is ErrorCategory.NETWORK
