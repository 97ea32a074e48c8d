"""Optional LLM few-shot scorer (seed 000), blended into the tier; off by default.

When ``TIERLINE_LLM_URL`` points to an OpenAI-compatible chat endpoint (the base URL such as
``http://127.0.0.1:8080/v1``, or the full ``.../chat/completions``), every caller turn sends
the transcript so far and the CRM summary with a few-shot prompt and asks for JSON
``{"tier": ..., "value": 0-100, "reason": ...}``. The request runs in a background thread and
the tier scorer only ever reads the latest *finished* answer, so a slow or dead endpoint never
stalls a call: at most one request per call is in flight, each bounded by
``TIERLINE_LLM_TIMEOUT`` seconds (default 3). The answer is blended as
``(1 - weight) * model + weight * llm`` (``TIERLINE_LLM_WEIGHT``, default 0.3).

Other settings: ``TIERLINE_LLM_MODEL`` (model name sent, default ``default``),
``TIERLINE_LLM_API_KEY`` (sent as a bearer token when set).
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TIERS

URL_ENV = "TIERLINE_LLM_URL"
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


class LlmError(RuntimeError):
    """The endpoint failed, timed out or answered something unusable."""


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
        url: Base URL (``.../v1``) or the full chat-completions URL.
        model: Model name sent in the request.
        timeout: Seconds one request may take.
        weight: Blend weight of the opinion.
        api_key: Bearer token, if the endpoint needs one.
    """

    def __init__(self, url: str, model: str = "default", timeout: float = 3.0,
                 weight: float = 0.3, api_key: str | None = None) -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model, self.timeout, self.weight, self.api_key = model, timeout, weight, api_key
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
        body = json.dumps({"model": self.model, "temperature": 0, "max_tokens": 80,
                           "messages": self.messages(utterances, customer)}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                data = json.loads(resp.read(1_000_000))
            content = data["choices"][0]["message"]["content"]
        except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError,
                IndexError, TypeError) as exc:
            raise LlmError(f"LLM request failed: {exc}") from None
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
    """A scorer configured from the environment, or None when ``TIERLINE_LLM_URL`` is unset."""
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        return None

    def number(name: str, default: float) -> float:
        try:
            return float(os.environ.get(name, default))
        except ValueError:
            return default

    return LlmScorer(url, os.environ.get("TIERLINE_LLM_MODEL", "default"),
                     timeout=number("TIERLINE_LLM_TIMEOUT", 3.0),
                     weight=min(1.0, max(0.0, number("TIERLINE_LLM_WEIGHT", 0.3))),
                     api_key=os.environ.get("TIERLINE_LLM_API_KEY") or None)
