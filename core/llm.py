"""The one client of an OpenAI-compatible chat endpoint, and its settings from the environment.

Two features use an LLM, both off unless ``TIERLINE_LLM_URL`` is set: the tier's few-shot
opinion (:mod:`tierline.segmentation.llm_opinion`) and the dialog's rewording of template
answers (:mod:`tierline.agent.dialog.llm_reply`). They share these settings:

- ``TIERLINE_LLM_URL``: the API base (``http://127.0.0.1:8080/v1``) or the full
  ``.../chat/completions`` URL; either way requests go to ``.../chat/completions``.
- ``TIERLINE_LLM_MODEL``: model name sent (default ``default``).
- ``TIERLINE_LLM_API_KEY``: bearer token, when the endpoint needs one (``TIERLINE_LLM_KEY``,
  the dialog's old name, is still read, with a warning).
- ``TIERLINE_LLM_TIMEOUT``: seconds one exchange may take, 0.05–10 (default 2).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass

from tierline.core.errors import TierlineError

CHAT_PATH = "/chat/completions"
DEFAULT_TIMEOUT_S = 2.0
MAX_ANSWER_BYTES = 1_000_000


class LlmError(TierlineError, RuntimeError):
    """The endpoint failed, timed out or answered something unusable."""


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to call the LLM.

    Attributes:
        url: API base (``.../v1``) or the full chat-completions URL.
        model: Model name sent in the request.
        timeout_s: Hard limit for one HTTP exchange.
        api_key: Bearer token, if the endpoint needs one.
    """

    url: str
    model: str = "default"
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key: str | None = None

    @property
    def endpoint(self) -> str:
        """The chat-completions URL, whether :attr:`url` is the base or already the endpoint."""
        url = self.url.rstrip("/")
        return url if url.endswith(CHAT_PATH) else url + CHAT_PATH

    @classmethod
    def from_env(cls) -> LlmConfig | None:
        """The settings in the environment, or None when ``TIERLINE_LLM_URL`` is unset."""
        url = os.environ.get("TIERLINE_LLM_URL", "").strip()
        if not url:
            return None
        key = os.environ.get("TIERLINE_LLM_API_KEY") or None
        if key is None and os.environ.get("TIERLINE_LLM_KEY"):
            warnings.warn("TIERLINE_LLM_KEY is deprecated: set TIERLINE_LLM_API_KEY",
                          FutureWarning, stacklevel=2)
            key = os.environ["TIERLINE_LLM_KEY"]
        return cls(url=url, model=os.environ.get("TIERLINE_LLM_MODEL", "default"),
                   timeout_s=env_number("TIERLINE_LLM_TIMEOUT", DEFAULT_TIMEOUT_S, 0.05, 10.0),
                   api_key=key)


def env_number(name: str, default: float, low: float, high: float) -> float:
    """A number from the environment, clamped to [low, high]; ``default`` when unset or bad."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = default
    return max(low, min(value, high))


def chat(config: LlmConfig, messages: list[dict], *, temperature: float = 0.0,
         max_tokens: int = 200) -> str:
    """One blocking chat request; the answer's text.

    Args:
        config: Endpoint settings (the socket timeout is ``config.timeout_s``).
        messages: OpenAI-style ``{"role", "content"}`` messages.
        temperature: Sampling temperature sent.
        max_tokens: Longest answer asked for.

    Raises:
        LlmError: network error, timeout, HTTP error or an answer without text.
    """
    body = {"model": config.model, "temperature": temperature, "max_tokens": max_tokens,
            "messages": messages}
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    req = urllib.request.Request(config.endpoint,
                                 data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=config.timeout_s) as resp:  # noqa: S310
            data = json.loads(resp.read(MAX_ANSWER_BYTES).decode("utf-8"))
        return str(data["choices"][0]["message"]["content"]).strip()
    except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, IndexError,
            TypeError) as exc:
        raise LlmError(f"LLM request to {config.endpoint} failed: {exc}") from None
