"""Per-intent Chinese reply templates with ``{name}`` placeholders, checked when loaded.

A template may only use names in :data:`VARIABLES`; an unknown name, a missing section or a
missing intent is a :class:`~tierline.agent.dialog.yamlfile.KbError` naming file and line.
Variants of one key rotate (:meth:`Templates.pick`) so repeated intents get fresh wording.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from tierline.agent.dialog.yamlfile import Fields, read_yaml
from tierline.nlu.vocab import INTENTS

FACT_VARIABLES = (
    "payment_methods", "payment_terms", "invoice", "trial_days", "trial_seats", "trial_how",
    "integration_api", "sso", "private_deployment", "customization", "volume_discount",
    "support_hours", "support_channels", "support_sla",
)
VARIABLES = frozenset(FACT_VARIABLES + (
    "vendor", "product", "hotline", "edition_prices", "edition_highlights",
    "integration_systems", "quote", "offer", "offer_reason", "callback_time",
))
"""Every placeholder a template may use."""

LIST_KEYS = ("greeting", "reprompt", "offer_transfer", "confirm_transfer", "no_input", "goodbye",
             "goodbye_refusal", "goodbye_dnc", "offer", "anything_else")
OPTIONAL_LISTS: dict[str, tuple[str, ...]] = {
    "callback_offer": ("好的，不打扰您了。您看什么时候方便，我们再给您打过来？",),
    "callback_confirm": ("好的，那我们{callback_time}再给您打电话，先不打扰您了，再见。",),
    "callback_later": ("好的，那我们改天再联系您，先不打扰您了，再见。",),
}
"""Keys a templates file may leave out (a knowledge base written before them still loads)."""
TRANSFER_QUEUES = ("senior_sales", "retention", "care", "general")
INTERRUPTIONS = ("long_turn", "opt_out")

_TIDY = ((re.compile(r"([。！？，、])[。，]+"), r"\1"), (re.compile(r"^[，。\s]+"), ""),
         (re.compile(r"\s+$"), ""))


@dataclass(frozen=True)
class Templates:
    """All reply templates of one language.

    Attributes:
        lists: Key (``greeting``, ``reprompt``...) → variants.
        intents: Intent label → variants.
        transfer: Queue → announcement.
        interruption: Reason → lead-in phrase.
    """

    lists: dict[str, tuple[str, ...]]
    intents: dict[str, tuple[str, ...]]
    transfer: dict[str, str]
    interruption: dict[str, str]

    def pick(self, key: str, n: int = 0) -> str:
        """The ``n``-th variant (cyclic) of a list key or of ``intent:<label>``."""
        if key.startswith("intent:"):
            variants = self.intents[key.removeprefix("intent:")]
        else:
            variants = self.lists[key]
        return variants[n % len(variants)]


def render(template: str, values: dict[str, str]) -> str:
    """Fill placeholders and tidy punctuation left by empty values."""
    text = template.format_map(values)
    for pattern, repl in _TIDY:
        text = pattern.sub(repl, text)
    return text


def _check(f: Fields, key: str, text: str, line: int) -> str:
    try:
        names = [n for _, n, _, _ in string.Formatter().parse(text) if n is not None]
    except ValueError as exc:
        raise f.error(line, f"{f.where + '.' if f.where else ''}{key}: bad template: "
                            f"{exc}") from None
    for name in names:
        if name not in VARIABLES:
            raise f.error(line, f"{f.where + '.' if f.where else ''}{key}: unknown placeholder "
                                f"{{{name}}} (known: {', '.join(sorted(VARIABLES))})")
    return text


def _variants(f: Fields, key: str) -> tuple[str, ...]:
    value = f.raw(key)
    if isinstance(value, str):
        return (_check(f, key, f.text(key), f.line(key)),)
    texts = f.texts(key)
    return tuple(_check(f, key, t, line) for t, line in zip(texts, value.lines, strict=True))


def _named(f: Fields, names: tuple[str, ...]) -> dict[str, str]:
    return {n: _check(f, n, f.text(n), f.line(n)) for n in names}


def load_templates(path: str | Path) -> Templates:
    """Load and check a templates file.

    Raises:
        KbError: missing key/intent, non-text value or unknown placeholder, with line.
    """
    path = Path(path)
    f = Fields(path, read_yaml(path))
    intents = f.sub("intents")
    unknown = sorted(set(intents.names()) - set(INTENTS))
    if unknown:
        raise intents.error(intents.line(unknown[0]), f"intents.{unknown[0]}: unknown intent")
    lists = {k: _variants(f, k) for k in LIST_KEYS}
    for key, default in OPTIONAL_LISTS.items():
        lists[key] = _variants(f, key) if f.has(key) else default
    return Templates(
        lists=lists,
        intents={i: _variants(intents, i) for i in INTENTS},
        transfer=_named(f.sub("transfer"), TRANSFER_QUEUES),
        interruption=_named(f.sub("interruption"), INTERRUPTIONS),
    )
