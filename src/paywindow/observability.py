"""Metrics and logs: the ``payments.*`` metrics facade and structured JSON logging.

Design:
- **Metrics** go through one small interface, :class:`Metrics`. The real adapter,
  :class:`DogStatsdMetrics`, sends UDP datagrams to a DogStatsD agent (namespace ``payments``);
  a send never raises and never blocks, and with no agent listening nothing is logged either.
  :class:`RecordingMetrics` is the test double: it keeps every call. The shells choose one at
  start-up with :func:`configure_metrics`; domain code asks :func:`metrics` for it, which is a
  no-op until a shell configures something. Durations are in seconds (``*_seconds``).
- **Logs** are stdlib ``logging`` records written one JSON object per line by
  :class:`JsonFormatter`: timestamp, level, logger, message, plus whatever ids the call passed
  with ``extra=`` (``order_id``, ``event_id``, ...). :class:`RedactingFilter` runs on the
  handler before formatting and masks anything that looks like a secret or a card number (also
  form- or URL-encoded), and any literal secret value the shell hands it, so no log line
  carries one. Email addresses keep only their domain (``***@example.com``): the buyer is
  identified by ``order_id``/``buyer_id``, while the domain still shows a provider-wide
  pattern (every bounce at one domain, a typo such as ``gmial.com``).
"""

from __future__ import annotations

import json as _json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from paywindow.settings import Settings

__all__ = [
    "DogStatsdMetrics",
    "JsonFormatter",
    "Metrics",
    "NullMetrics",
    "RecordingMetrics",
    "RedactingFilter",
    "Sample",
    "configure_from",
    "configure_logging",
    "configure_metrics",
    "metrics",
    "redact",
    "stopwatch",
]

NAMESPACE = "payments"
Tags = Mapping[str, str | int | bool | None] | None


class Metrics(Protocol):
    """What domain code may report. Names exclude the ``payments.`` namespace."""

    def increment(self, name: str, value: float = 1, tags: Tags = None) -> None: ...
    def gauge(self, name: str, value: float, tags: Tags = None) -> None: ...
    def histogram(self, name: str, value: float, tags: Tags = None) -> None: ...
    def distribution(self, name: str, value: float, tags: Tags = None) -> None: ...


class NullMetrics:
    """Reports nothing: what :func:`metrics` returns until a shell configures metrics."""

    def increment(self, name: str, value: float = 1, tags: Tags = None) -> None:
        pass

    def gauge(self, name: str, value: float, tags: Tags = None) -> None:
        pass

    def histogram(self, name: str, value: float, tags: Tags = None) -> None:
        pass

    def distribution(self, name: str, value: float, tags: Tags = None) -> None:
        pass


def _tag_list(tags: Tags) -> list[str] | None:
    if not tags:
        return None
    return [f"{key}:{value}" for key, value in tags.items() if value is not None]


class DogStatsdMetrics:
    """DogStatsD over UDP (``datadog`` package): non-blocking and silent on errors.

    Counters and gauges are aggregated in memory and everything is flushed by the library's
    background thread twice a second, so a metric on the webhook's hot path costs a dict
    update, not a datagram (with no agent listening, each refused datagram also rebuilt the
    socket, name lookup included).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8125, *, constant_tags: Tags = None
    ) -> None:
        from datadog.dogstatsd.base import DogStatsd

        # With no agent listening every datagram is refused; that is expected, not news.
        logging.getLogger("datadog.dogstatsd").setLevel(logging.CRITICAL)
        self._client = DogStatsd(
            host=host,
            port=port,
            namespace=NAMESPACE,
            constant_tags=_tag_list(constant_tags),
            disable_telemetry=True,
            disable_buffering=False,
            disable_aggregation=False,
            flush_interval=0.5,
            socket_timeout=0,
            origin_detection_enabled=False,
        )

    def _send(self, method: str, name: str, value: float, tags: Tags) -> None:
        with suppress(Exception):  # metrics must never break a payment
            getattr(self._client, method)(name, value, tags=_tag_list(tags))

    def increment(self, name: str, value: float = 1, tags: Tags = None) -> None:
        self._send("increment", name, value, tags)

    def gauge(self, name: str, value: float, tags: Tags = None) -> None:
        self._send("gauge", name, value, tags)

    def histogram(self, name: str, value: float, tags: Tags = None) -> None:
        self._send("histogram", name, value, tags)

    def distribution(self, name: str, value: float, tags: Tags = None) -> None:
        self._send("distribution", name, value, tags)

    def close(self) -> None:
        with suppress(Exception):
            self._client.flush()
            self._client.flush_aggregated_metrics()
        self._client.close_socket()


@dataclass(frozen=True)
class Sample:
    """One recorded call: kind (``increment``, ``gauge``, ...), full name, value, tags."""

    kind: str
    name: str
    value: float
    tags: dict[str, str]


@dataclass
class RecordingMetrics:
    """The test double: keeps every call, with the full ``payments.`` name."""

    samples: list[Sample] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, kind: str, name: str, value: float, tags: Tags) -> None:
        clean = {k: str(v) for k, v in (tags or {}).items() if v is not None}
        with self._lock:
            self.samples.append(Sample(kind, f"{NAMESPACE}.{name}", float(value), clean))

    def increment(self, name: str, value: float = 1, tags: Tags = None) -> None:
        self._record("increment", name, value, tags)

    def gauge(self, name: str, value: float, tags: Tags = None) -> None:
        self._record("gauge", name, value, tags)

    def histogram(self, name: str, value: float, tags: Tags = None) -> None:
        self._record("histogram", name, value, tags)

    def distribution(self, name: str, value: float, tags: Tags = None) -> None:
        self._record("distribution", name, value, tags)

    def names(self) -> set[str]:
        with self._lock:
            return {s.name for s in self.samples}

    def values(self, name: str, **tags: str) -> list[float]:
        """Values reported under ``name`` whose tags include ``tags``."""
        with self._lock:
            return [
                s.value
                for s in self.samples
                if s.name == name and all(s.tags.get(k) == v for k, v in tags.items())
            ]

    def total(self, name: str, **tags: str) -> float:
        return sum(self.values(name, **tags))


_current: Metrics = NullMetrics()


def configure_metrics(instance: Metrics) -> Metrics:
    """Make ``instance`` what :func:`metrics` returns; returns the previous one."""
    global _current
    previous, _current = _current, instance
    return previous


def metrics() -> Metrics:
    """The process's metrics: whatever the shell configured, else a no-op."""
    return _current


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Measure a duration in seconds (monotonic): ``with stopwatch() as took: ...; took[0]``."""
    took: list[float] = []
    started = time.perf_counter()
    try:
        yield took
    finally:
        took.append(time.perf_counter() - started)


# --- logs ---------------------------------------------------------------------------------

_MASK = "[REDACTED]"
_PATTERNS = [
    re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"),
    re.compile(r"\bBearer\s+[^\s\"',;]+", re.IGNORECASE),
    re.compile(r"\bt=\d+(?:,\s*v\d+=[0-9A-Za-z]+)+"),  # a Stripe-Signature value
    # what is left of one when a log (SQLAlchemy's row log) truncated its "t=..." head away
    re.compile(r"\b(?:[0-9a-f]{16,},\s*)?v\d+=[0-9a-f]{16,}"),
    re.compile(r"stripe[-_]signature[\"']?\s*[:=]\s*[\"']?[^\"'\s,}]+", re.IGNORECASE),
    re.compile(r"client_secret[\"']?\s*[:=]\s*[\"']?[^\"'\s,}]*", re.IGNORECASE),
    re.compile(r"\b[A-Za-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"),  # pi_..._secret_...
    re.compile(r"client_secret", re.IGNORECASE),
]
# Card numbers as people type them and as form or URL encoding writes them: one unbroken run,
# or groups joined by one separator. The candidate is a whole run of digit groups; only a
# Luhn-valid window of it that looks like a card is masked (see _card_spans).
_SEP = r"(?:%20|[ +._-])"
_DIGIT_RUN = re.compile(rf"(?:(?<=%20)|(?<![\dA-Za-z_%]))\d++(?:{_SEP}\d++)*+")
_GROUP = re.compile(rf"({_SEP})?(\d+)")
_CARD_LEADS = "23456"  # Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay
# Local part @ domain, the "@" also URL-encoded; the domain must end in a letters-only label.
_EMAIL = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+(@|%40)((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in _CARD_LEADS and _luhn(digits)


def _card_spans(groups: list[tuple[str, str, int, int]]) -> Iterator[tuple[int, int]]:
    """Spans of the longest card-like window starting at each group, left to right.

    A window is one group of 13-19 digits, or groups of 3 to 6 digits (the last may be
    shorter) joined by one separator, as cards are printed: 4-4-4-4, 4-6-5, 4-4-4-4-3.
    """
    i = 0
    while i < len(groups):
        best, digits = None, ""
        for j in range(i, len(groups)):
            sep, run = groups[j][:2]
            if j > i and (
                len(run) > 6
                or not 3 <= len(groups[j - 1][1]) <= 6
                or (j > i + 1 and sep != groups[i + 1][0])
            ):
                break
            digits += run
            if len(digits) > 19:
                break
            if _is_card(digits):
                best = j
        if best is None:
            i += 1
            continue
        yield groups[i][2], groups[best][3]
        i = best + 1


def _mask_cards(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = [(m.group(1) or "", m.group(2), m.start(2), m.end(2)) for m in _GROUP.finditer(run)]
    after = match.string[match.end() : match.end() + 1]
    if after.isalpha() or after == "_":  # "...5556abc": the last group is part of a word
        groups.pop()
    for start, end in reversed(list(_card_spans(groups))):
        run = run[:start] + _MASK + run[end:]
    return run


def _mask_email(match: re.Match[str]) -> str:
    return f"***{match.group(1)}{match.group(2)}"


def redact(text: str, literals: Iterable[str] = ()) -> str:
    """``text`` with secrets, tokens, signatures, client secrets and card numbers masked, and
    email addresses reduced to their domain (``***@example.com``)."""
    for literal in literals:
        if literal:
            text = text.replace(literal, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_MASK, text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(_mask_email, text)
    return _DIGIT_RUN.sub(_mask_cards, text)


def _redact_value(value: Any, literals: Iterable[str]) -> Any:
    """A string, or the strings nested in dicts, lists and tuples, redacted (a copy; the JSON
    line writes tuples as lists anyway)."""
    if isinstance(value, str):
        return redact(value, literals)
    if isinstance(value, Mapping):
        return {key: _redact_value(item, literals) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item, literals) for item in value]
    return value


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, exception text and extras (strings, also nested in
    dicts and lists), in place."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__()
        self.literals = [value for value in literals if value]

    def filter(self, record: logging.LogRecord) -> bool:
        if _is_result_row(record):
            return False  # SQLAlchemy's DEBUG result rows hold stored data (secrets, emails)
        record.msg = redact(record.getMessage(), self.literals)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.literals)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.literals)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str | Mapping | list | tuple):
                setattr(record, key, _redact_value(value, self.literals))
        return True


def _is_result_row(record: logging.LogRecord) -> bool:
    return record.name.startswith("sqlalchemy.engine") and str(record.msg).startswith("Row ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return _json.dumps(line, default=str, ensure_ascii=False)


_HANDLER_NAME = "paywindow"


def configure_logging(
    level: str | int = "INFO",
    *,
    json: bool = True,
    stream: IO[str] | None = None,
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """Send every log record (root logger) to ``stream`` (stderr), redacted, as JSON lines.

    Calling it again replaces paywindow's handler, so shells and tests may call it freely.
    ``secrets`` are literal values (keys, tokens) masked wherever they appear.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(
        JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as literals for the redaction filter."""
    values = [*settings.webhook_secret_values()]
    held = (
        settings.stripe_api_key,
        settings.api_token,
        settings.support_token,
        settings.admin_token,
        settings.s3_secret_access_key,
    )
    for secret in held:
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def configure_from(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """What each shell calls at start: JSON logs at the configured level, and DogStatsD
    metrics unless disabled."""
    configure_logging(
        settings.log_level, json=settings.log_json, stream=stream, secrets=secret_values(settings)
    )
    if settings.metrics_enabled:
        configure_metrics(DogStatsdMetrics(settings.dogstatsd_host, settings.dogstatsd_port))
