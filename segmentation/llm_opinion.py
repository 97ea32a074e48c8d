"""Optional LLM few-shot scorer (seed 000), blended into the tier; off by default.

When an LLM is configured (``TIERLINE_LLM_URL`` and friends, :mod:`tierline.core.llm`),
every caller turn sends the transcript so far and the CRM summary with a few-shot prompt and
asks for JSON ``{"tier": ..., "value": 0-100, "reason": ...}``. The request runs in a
background thread and the tier scorer only ever reads the latest *finished* answer, so a slow
or dead endpoint never stalls a call: at most one request per call is in flight, each bounded
by the configured timeout. The answer is blended as ``(1 - weight) * model + weight * llm``
(``TIERLINE_LLM_WEIGHT``, default 0.3).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tierline.core.llm import LlmConfig, LlmError, chat, env_number
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS

_JSON = re.compile(r"\{.*\}", re.DOTALL)

SYSTEM = (
    "You rate callers of a B2B software vendor's call centre. Tiers: high = strong purchase "
    "signals with large value (budget >= 500,000 CNY, >= 100 seats/stores/users, integration "
    "with purchase intent, an existing customer expanding, three or more customisation asks); "
    "medium = genuine interest or an existing customer's routine question, hesitation; "
    "low = refusal, no need, wrong number, personal use, 'too expensive, forget it'; "
    "churn_risk = an existing customer (contract value > 0) signalling leaving, repeated "
    "complaints or anger. Answer with JSON only: "
    '{"tier": "high|medium|low|churn_risk", "value": 0-100, "reason": "<= 12 words"}.'
)
FEW_SHOT: tuple[tuple[str, str], ...] = (
    ("CRM: prospect, 3 enquiries.\nCaller: 我们公司想采购一套客服系统。| 年度预算一百万。",
     '{"tier": "high", "value": 90, "reason": "budget 1,000,000 CNY with purchase intent"}'),
    ("CRM: prospect, no enquiries.\nCaller: 不需要，谢谢。",
     '{"tier": "low", "value": 5, "reason": "caller declined"}'),
    ("CRM: existing customer, contract 300,000 CNY, 2 complaints.\n"
     "Caller: 钉钉便宜一半，我们打算不续费了。",
     '{"tier": "churn_risk", "value": 60, "reason": "existing customer switching to 钉钉"}'),
    ("CRM: prospect, 1 enquiry.\nCaller: 价格是多少？| 我再考虑一下。",
     '{"tier": "medium", "value": 40, "reason": "interested but hesitating"}'),
)


@dataclass(frozen=True)
class LlmOpinion:
    """One answer of the LLM.

    Attributes:
        tier: Tier it chose.
        value: Value score 0..100.
        probs: Tier distribution used for blending (smoothed one-hot).
        reason: Sentence added to the tier reasons.
        turns: Caller turns the answer is about.
    """

    tier: str
    value: float
    probs: np.ndarray
    reason: str
    turns: int


def _crm_summary(customer: CustomerProfile) -> str:
    f = customer.features
    if customer.is_existing_customer:
        return (f"existing customer, contract {f['contract_value']:,.0f} CNY, "
                f"{f['complaint_count']:.0f} complaints, renewal rate {f['renewal_rate']:.0%}")
    return f"prospect, {f['consult_count']:.0f} enquiries"


def parse_answer(content: str, turns: int) -> LlmOpinion:
    """The opinion in a chat answer.

    Raises:
        LlmError: no JSON object with a known tier in it.
    """
    m = _JSON.search(content or "")
    try:
        data = json.loads(m.group(0)) if m else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("tier") not in TIERS:
        raise LlmError(f"unusable LLM answer: {content[:80]!r}")
    try:
        value = min(100.0, max(0.0, float(data.get("value", 50))))
    except (TypeError, ValueError):
        value = 50.0
    probs = np.full(len(TIERS), 0.1, np.float32)
    probs[TIERS.index(data["tier"])] = 0.7
    reason = str(data.get("reason", ""))[:80]
    note = f"LLM: {data['tier']}, value {value:.0f}/100" + (f" ({reason})" if reason else "")
    return LlmOpinion(data["tier"], value, probs, note, turns)


class LlmScorer:
    """Asks an OpenAI-compatible chat endpoint for a tier opinion, off the call's path.

    Args:
        config: Endpoint settings.
        weight: Blend weight of the opinion.
    """

    def __init__(self, config: LlmConfig, weight: float = 0.3) -> None:
        self.config, self.weight = config, weight
        self.last_error: str | None = None
        self._latest: LlmOpinion | None = None
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None

    def messages(self, utterances: Sequence[str], customer: CustomerProfile) -> list[dict]:
        msgs = [{"role": "system", "content": SYSTEM}]
        for user, answer in FEW_SHOT:
            msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        msgs.append({"role": "user", "content": f"CRM: {_crm_summary(customer)}.\n"
                                                f"Caller: {' | '.join(utterances)}"})
        return msgs

    def ask(self, utterances: Sequence[str], customer: CustomerProfile) -> LlmOpinion:
        """One blocking request (bounded by ``timeout``).

        Raises:
            LlmError: network error, timeout, HTTP error or an unusable answer.
        """
        content = chat(self.config, self.messages(utterances, customer), max_tokens=80)
        return parse_answer(content, len(utterances))

    def submit(self, utterances: Sequence[str], customer: CustomerProfile) -> bool:
        """Start a background request unless one is in flight; never blocks.

        Returns:
            Whether a request was started.
        """
        if not self._busy.acquire(blocking=False):
            return False

        def work() -> None:
            try:
                self._latest = self.ask(utterances, customer)
                self.last_error = None
            except LlmError as exc:
                self.last_error = str(exc)
            finally:
                self._busy.release()

        self._thread = threading.Thread(target=work, name="tier-llm", daemon=True)
        self._thread.start()
        return True

    def latest(self) -> LlmOpinion | None:
        """The most recent finished answer (None before the first one)."""
        return self._latest

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the request in flight (for tests and offline batch scoring)."""
        if self._thread is not None:
            self._thread.join(timeout)


def llm_from_env() -> LlmScorer | None:
    """A scorer configured from the environment, or None when no LLM is configured."""
    config = LlmConfig.from_env()
    if config is None:
        return None
    return LlmScorer(config, weight=env_number("TIERLINE_LLM_WEIGHT", 0.3, 0.0, 1.0))
