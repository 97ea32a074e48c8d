"""Optional LLM rewording of the answer through an OpenAI-compatible chat endpoint.

Off unless an LLM is configured (``TIERLINE_LLM_URL`` and friends, :mod:`tierline.core.llm`).
The model gets the knowledge-base facts and the template answer and may only rephrase them.
The reply is rejected, and the template used instead, when the call fails or exceeds the
timeout, when the text is empty or too long, or when it states a number that is not in the
facts, the template answer or the caller's words (a made-up price).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from tierline.core.llm import LlmConfig, LlmError, chat

log = logging.getLogger(__name__)
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tierline-llm")

MAX_CHARS = 160
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SYSTEM = (
    "你是{vendor}的电话客服助理。只根据下面的资料回答，不要编造资料里没有的价格、数字或承诺。"
    "用口语化的简体中文，一到两句话，不超过80个字，不要提问。\n资料：\n{facts}"
)


def grounded(text: str, *sources: str) -> bool:
    """True when every number in ``text`` appears in one of ``sources``."""
    allowed = set()
    for s in sources:
        allowed.update(_NUMBER.findall(s))
    return all(n in allowed for n in _NUMBER.findall(text))


class LlmReplier:
    """Rewords template answers with an LLM, falling back to the template on any problem.

    Args:
        config: Endpoint settings.
        vendor: Vendor name for the system prompt.
        facts: Knowledge-base facts, one per line.
    """

    def __init__(self, config: LlmConfig, vendor: str, facts: str) -> None:
        self.config = config
        self.system = _SYSTEM.format(vendor=vendor, facts=facts)
        self.facts = facts
        self.failures = 0

    def _post(self, caller: str, draft: str) -> str:
        return chat(self.config, [
            {"role": "system", "content": self.system},
            {"role": "user", "content": f"客户说：{caller}\n参考回答：{draft}\n请改写参考回答。"},
        ], temperature=0.3, max_tokens=200)

    def reword(self, caller: str, draft: str) -> str | None:
        """The LLM's version of ``draft``, or None to keep the template.

        Args:
            caller: What the caller said.
            draft: The template answer (grounded on the KB).
        """
        future = _POOL.submit(self._post, caller, draft)
        try:
            # The socket timeout bounds each read; this bounds the whole exchange.
            text = future.result(timeout=self.config.timeout_s)
        except FutureTimeout:
            self.failures += 1
            log.warning("LLM reply took over %.2f s; using the template", self.config.timeout_s)
            return None
        except LlmError as exc:
            self.failures += 1
            log.warning("LLM reply failed (%s); using the template", exc)
            return None
        if not text or len(text) > MAX_CHARS:
            log.warning("LLM reply empty or too long (%d chars); using the template", len(text))
            return None
        if not grounded(text, self.facts, draft, caller):
            log.warning("LLM reply states numbers not in the knowledge base; using the template")
            return None
        return text
