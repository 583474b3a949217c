"""The buyer-population simulator: which buyers pay, when, and how their cards behave.

All parameters live in ``BuyerModel`` (documented in docs/sandbox.md). ``BuyerPopulation``
draws from it with a seeded RNG, so a seed replays the same population. It can run inside the
sandbox (``POST /_sandbox/buyers``): each new Checkout Session gets a plan of attempts
scheduled on the sandbox clock, and off-session confirmations of saved cards draw their outcome
from the model. Or a driver can call ``plan`` / ``off_session`` itself.

Model, per Checkout Session (attempt ``n`` = how many sessions with the same
``client_reference_id`` came before it; 0 = the original, 1.. = retry links):

1. the buyer shows up with probability ``p_attempt`` (n = 0) or ``p_pay_retry_link[n-1]``;
2. the first attempt comes after a log-normal delay (median ``time_to_pay_median_s``,
   ``time_to_pay_sigma``), capped before the session expires;
3. the attempt declines with probability ``decline_rate``, the code drawn from ``decline_mix``;
   otherwise it is a card success, or with probability ``async_share`` an async method that
   fails with probability ``async_fail_rate`` after ``async_settle_s``;
4. after a soft decline the buyer retries in the same session with probability
   ``p_retry_same_session`` after ``retry_same_session_s``, with the same draw as step 3;
5. an off-session retry of a card that last declined with code ``c`` succeeds with probability
   ``p_off_session_success[c][k]`` on the k-th off-session attempt (0 for unlisted codes).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from paywindow.sandbox.buyers import pay_session
from paywindow.sandbox.engine import Engine, system_ctx, timer
from paywindow.sandbox.outcomes import Outcome
from paywindow.sandbox.resources import checkout, intents
from paywindow.sandbox.wire import Obj

__all__ = ["BuyerModel", "BuyerPopulation", "install_population", "notify_buyer"]

_SOFT = ("insufficient_funds", "processing_error", "generic_decline", "incorrect_cvc")


def _default_mix() -> dict[str, float]:
    return {
        "insufficient_funds": 0.38,
        "generic_decline": 0.20,
        "do_not_honor": 0.10,
        "expired_card": 0.07,
        "incorrect_cvc": 0.06,
        "processing_error": 0.05,
        "authentication_required": 0.05,
        "fraudulent": 0.03,
        "stolen_card": 0.03,
        "lost_card": 0.03,
    }


def _default_off_session() -> dict[str, tuple[float, ...]]:
    return {
        "insufficient_funds": (0.30, 0.25, 0.20),
        "processing_error": (0.80, 0.60, 0.50),
        "generic_decline": (0.10, 0.05, 0.05),
        "authentication_required": (0.0,),
    }


@dataclass(frozen=True)
class BuyerModel:
    """Every parameter of the buyer population (see the module docstring for the model)."""

    p_attempt: float = 0.85
    p_pay_retry_link: tuple[float, ...] = (0.45, 0.30, 0.20)
    time_to_pay_median_s: float = 600.0
    time_to_pay_sigma: float = 1.2
    decline_rate: float = 0.15
    decline_mix: Mapping[str, float] = field(default_factory=_default_mix)
    async_share: float = 0.05
    async_fail_rate: float = 0.10
    async_settle_s: int = 3 * 86_400
    p_retry_same_session: float = 0.35
    retry_same_session_s: float = 120.0
    save_card_rate: float = 1.0
    p_off_session_success: Mapping[str, tuple[float, ...]] = field(
        default_factory=_default_off_session
    )
    #: Buyers learn of a retry link only when the marketplace tells them (``notify``); off:
    #: they find it at once, as if they watched Stripe.
    links_need_notice: bool = False
    #: Seconds from the marketplace's notice to the buyer looking at the link (then the usual
    #: time to pay follows).
    notice_to_action_s: float = 60.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuyerModel:
        """A model with the given fields overriding the defaults."""
        fields: dict[str, Any] = dict(data)
        for key in ("p_pay_retry_link",):
            if key in fields:
                fields[key] = tuple(fields[key])
        if "p_off_session_success" in fields:
            fields["p_off_session_success"] = {
                k: tuple(v) for k, v in fields["p_off_session_success"].items()
            }
        return replace(cls(), **fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class BuyerPopulation:
    """Seeded draws from a ``BuyerModel``."""

    def __init__(self, model: BuyerModel | None = None, seed: int | None = None) -> None:
        self.model = model or BuyerModel()
        self.rng = random.Random(seed)

    def outcome(self) -> dict[str, Any]:
        """One attempt's pay body (step 3)."""
        model = self.model
        if self.rng.random() < model.decline_rate:
            codes = list(model.decline_mix)
            weights = [model.decline_mix[c] for c in codes]
            code = self.rng.choices(codes, weights)[0]
            return {"outcome": "decline", "decline_code": code}
        if self.rng.random() < model.async_share:
            fails = self.rng.random() < model.async_fail_rate
            return {
                "outcome": "success",
                "async": "fail" if fails else "settle",
                "settle_after": model.async_settle_s,
            }
        return {"outcome": "success"}

    def plan(self, attempt_number: int, window_s: float) -> list[tuple[float, dict[str, Any]]]:
        """The attempts a buyer makes on one session: ``(delay_s, pay_body)`` in order."""
        model = self.model
        links = model.p_pay_retry_link
        p_show = (
            model.p_attempt
            if attempt_number == 0
            else (links[min(attempt_number, len(links)) - 1] if links else 0.0)
        )
        if self.rng.random() >= p_show:
            return []
        mu = math.log(model.time_to_pay_median_s)
        delay = min(self.rng.lognormvariate(mu, model.time_to_pay_sigma), window_s * 0.95)
        save = self.rng.random() < model.save_card_rate
        body = {**self.outcome(), "save_payment_method": save}
        attempts = [(delay, body)]
        while body.get("decline_code") in _SOFT and self.rng.random() < model.p_retry_same_session:
            delay = min(delay + model.retry_same_session_s, window_s * 0.99)
            body = {**self.outcome(), "save_payment_method": save}
            attempts.append((delay, body))
        return attempts

    def off_session(self, last_decline_code: str | None, attempt: int) -> Outcome:
        """The outcome of the ``attempt``-th (1-based) off-session charge of a saved card."""
        unknown = (1.0,) if last_decline_code is None else (0.0,)
        chances = self.model.p_off_session_success.get(last_decline_code or "", unknown)
        chance = chances[min(attempt, len(chances)) - 1] if chances else 0.0
        if self.rng.random() < chance:
            return Outcome()
        return Outcome("decline", last_decline_code or "generic_decline")


_KEY = "population"


def install_population(engine: Engine, population: BuyerPopulation | None) -> None:
    """Let ``population`` drive new sessions and off-session attempts (None switches it off)."""
    if population is None:
        engine.plugins.pop(_KEY, None)
    else:
        engine.plugins[_KEY] = population


def _on_session(engine: Engine, session: Obj) -> None:
    population: BuyerPopulation | None = engine.plugins.get(_KEY)
    if population is None:
        return
    reference = session["client_reference_id"] or session["id"]
    seen: dict[str, int] = engine.store.extra("buyers:references")
    attempt_number = seen.get(reference, 0)
    seen[reference] = attempt_number + 1
    if attempt_number > 0 and population.model.links_need_notice:
        engine.store.extra(session["id"])["awaiting_notice"] = attempt_number
        return
    _plan(engine, population, session, attempt_number, session["created"])


def _plan(
    engine: Engine, population: BuyerPopulation, session: Obj, attempt_number: int, start: int
) -> None:
    window = session["expires_at"] - start
    plan = population.plan(attempt_number, window)
    engine.store.extra(session["id"])["buyer_plan"] = [body for _, body in plan]
    for delay, _body in plan:
        engine.store.schedule(start + int(delay), "buyer_pay", session["id"])


def notify_buyer(engine: Engine, session_id: str) -> bool:
    """The marketplace told the buyer of ``session_id`` (a retry link): the buyer acts on it
    after ``notice_to_action_s``. False if the session was not waiting for a notice."""
    population: BuyerPopulation | None = engine.plugins.get(_KEY)
    extra = engine.store.extra(session_id)
    session = engine.store.objects.get(session_id)
    attempt_number = extra.pop("awaiting_notice", None)
    if population is None or attempt_number is None or session is None:
        return False
    if session["status"] != "open":
        return False
    start = engine.now() + int(population.model.notice_to_action_s)
    if start >= session["expires_at"]:
        return False
    _plan(engine, population, session, attempt_number, start)
    return True


@timer("buyer_pay")
def _buyer_pay(engine: Engine, session_id: str, due: int) -> None:
    plan = engine.store.extra(session_id).get("buyer_plan") or []
    session = engine.store.objects.get(session_id)
    if not plan or session is None or session["status"] != "open":
        return
    pay_session(engine, system_ctx(engine), session_id, plan.pop(0), at=due)


def _off_session(engine: Engine, pm_id: str, attempt: int) -> Outcome | None:
    population: BuyerPopulation | None = engine.plugins.get(_KEY)
    if population is None:
        return None
    last = engine.store.extra(pm_id).get("last_decline_code")
    return population.off_session(last, attempt)


checkout.SESSION_CREATED.append(_on_session)
intents.OFF_SESSION_MODEL.append(_off_session)
