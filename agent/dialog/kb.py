"""The knowledge base: what the bot may say about the vendor, loaded from YAML and validated.

See samples/kb/yunfan.yaml for the format. :func:`load_kb` checks every field and raises
:class:`~tierline.agent.dialog.yamlfile.KbError` naming the file, line and field path of the
first problem; the templates file it references is loaded and checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tierline.agent.dialog.templates import Templates, load_templates
from tierline.agent.dialog.yamlfile import Fields, KbError, read_yaml
from tierline.segmentation.records import TIERS

SLOTS = ("budget", "seats", "timeline", "decision_maker", "current_system", "pain_point")
"""Qualification slots tracked per call (and the questions that fill them)."""


@dataclass(frozen=True)
class Edition:
    name: str
    price_cny_per_seat_year: float
    min_seats: int
    max_seats: int
    highlights: str


@dataclass(frozen=True)
class Module:
    name: str
    price_cny_per_year: float
    keywords: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class FaqEntry:
    keywords: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Answer:
    """A plausible answer to a qualification question.

    Attributes:
        say: What a caller could say (run through the NLU when simulating).
        given_tier: P(this answer | true tier) for each tier.
        also: Other wordings of the same answer. The question selector simulates every
            wording and averages, so one wording the NLU misreads does not decide which
            question looks informative.
    """

    say: str
    given_tier: dict[str, float]
    also: tuple[str, ...] = ()

    @property
    def wordings(self) -> tuple[str, ...]:
        """``say`` followed by ``also``."""
        return (self.say, *self.also)


@dataclass(frozen=True)
class Question:
    slot: str
    ask: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Compliance:
    disclosure: str
    opt_out_phrases: tuple[str, ...]
    opt_out_not_before: str = ""


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the bot knows, immutable.

    Attributes:
        path: File it was loaded from.
        vendor: name, product, hotline.
        facts: Flat fact name → text (payment_methods, trial_days, support_hours, ...).
        integration_systems: Systems the product is integrated with.
        topic_words: Words that make a turn without a clear intent on-topic (vague) rather
            than off-topic.
    """

    path: Path
    vendor: dict[str, str]
    compliance: Compliance
    editions: tuple[Edition, ...]
    modules: tuple[Module, ...]
    facts: dict[str, str]
    integration_systems: tuple[str, ...]
    faq: tuple[FaqEntry, ...]
    questions: dict[str, Question]
    templates: Templates
    orders_path: Path | None = None
    topic_words: tuple[str, ...] = ()

    def edition(self, name: str) -> Edition | None:
        return next((e for e in self.editions if e.name == name), None)


def _editions(f: Fields) -> tuple[Edition, ...]:
    out = []
    for e in f.items("editions"):
        low = int(e.number("min_seats", 1))
        high = int(e.number("max_seats", 1))
        if high < low:
            raise e.error(e.line("max_seats"), f"{e.where}.max_seats ({high}) is below "
                                               f"min_seats ({low})")
        out.append(Edition(e.text("name"), e.number("price_cny_per_seat_year", 0.01), low, high,
                           e.text("highlights")))
    names = [x.name for x in out]
    if len(set(names)) != len(names):
        raise f.error(f.line("editions"), "editions: edition names must be unique")
    return tuple(out)


def _questions(f: Fields) -> dict[str, Question]:
    q = f.sub("questions")
    out: dict[str, Question] = {}
    for slot in q.names():
        if slot not in SLOTS:
            raise q.error(q.line(slot), f"questions.{slot}: unknown slot (known: "
                                        f"{', '.join(SLOTS)})")
        one = q.sub(slot)
        answers = []
        items = one.items("answers")
        for a in items:
            g = a.sub("given_tier")
            probs = {t: g.number(t, 0.0, 1.0) for t in TIERS}
            extra = sorted(set(g.names()) - set(TIERS))
            if extra:
                raise g.error(g.line(extra[0]), f"{g.where}.{extra[0]}: unknown tier")
            also = a.texts("also") if a.has("also") else ()
            answers.append(Answer(a.text("say"), probs, also))
        for t in TIERS:
            total = sum(a.given_tier[t] for a in answers)
            if abs(total - 1.0) > 0.011:
                raise one.error(one.line("answers"),
                                f"questions.{slot}.answers: given_tier.{t} sums to {total:.2f} "
                                f"over the answers, must be 1")
        out[slot] = Question(slot, one.text("ask"), tuple(answers))
    return out


def _facts(f: Fields) -> dict[str, str]:
    pay, trial, integ, support = (f.sub(k) for k in ("payment", "trial", "integration",
                                                        "support"))
    return {
        "payment_methods": pay.text("methods"),
        "payment_terms": pay.text("terms"),
        "invoice": pay.text("invoice"),
        "trial_days": str(int(trial.number("days", 1))),
        "trial_seats": str(int(trial.number("seats", 1))),
        "trial_how": trial.text("how"),
        "integration_api": integ.text("api"),
        "sso": integ.text("sso"),
        "private_deployment": integ.text("private_deployment"),
        "customization": f.text("customization"),
        "volume_discount": f.text("volume_discount"),
        "support_hours": support.text("hours"),
        "support_channels": support.text("channels"),
        "support_sla": support.text("sla"),
    }


def load_kb(path: str | Path) -> KnowledgeBase:
    """Load and validate a knowledge base and its templates.

    Args:
        path: The KB YAML file; ``templates`` and ``orders`` inside it are relative to it.

    Raises:
        KbError: the first missing field, bad type or bad value, with file and line.
    """
    path = Path(path)
    f = Fields(path, read_yaml(path))
    vendor = f.sub("vendor")
    vendor_facts = {k: vendor.text(k) for k in ("name", "product", "hotline")}
    comp = f.sub("compliance")
    compliance = Compliance(comp.text("disclosure"), comp.texts("opt_out_phrases"),
                            comp.text("opt_out_not_before", ""))
    modules = tuple(
        Module(m.text("name"), m.number("price_cny_per_year"), m.texts("keywords"),
               m.text("description"))
        for m in f.items("modules"))
    faq = tuple(FaqEntry(x.texts("keywords"), x.text("answer")) for x in f.items("faq"))
    integ = f.sub("integration")
    orders = None
    if f.has("orders"):
        orders = path.parent / f.text("orders")
        if not orders.is_file():
            raise f.error(f.line("orders"), f"orders: file not found: {orders}")
    templates = load_templates(path.parent / f.text("templates"))
    return KnowledgeBase(
        path=path,
        vendor=vendor_facts,
        compliance=compliance,
        editions=_editions(f),
        modules=modules,
        facts=_facts(f),
        integration_systems=integ.texts("systems"),
        faq=faq,
        questions=_questions(f),
        templates=templates,
        orders_path=orders,
        topic_words=f.texts("topic_words") if f.has("topic_words") else (),
    )


__all__ = ["SLOTS", "Answer", "Compliance", "Edition", "FaqEntry", "KbError", "KnowledgeBase",
           "Module", "Question", "load_kb"]
