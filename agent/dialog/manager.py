"""The dialog manager: one per call, turning each decided caller turn into the bot's reply.

Order of precedence for a caller turn:

1. opt-out (the KB's phrases, or the call-act model: :class:`OptOut`) → do-not-call list,
   non-interruptible goodbye, call ends;
2. the route decision transfers → announce the queue, the bot's part ends;
3. a busy caller (the call-act model's ``callback``: "现在在开会，没空", "明天下午再打") → a
   callback record with the time asked for, resolved against the call's start
   (:func:`tierline.nlu.when.parse_when`), and a goodbye that confirms it; without a time, an
   offer to call back and the time taken from the next turn; never a qualification question,
   and nothing read into the slots;
4. empty/noise/off-topic → short re-prompt, then an offer to transfer, then a transfer;
5. refusal → polite goodbye;
6. otherwise: an answer from the knowledge base (FAQ entry, module, or the intent's template),
   an offer once seats or budget make the need clear, and — while the tier's top probability
   is below ``confidence`` — the qualification question with the largest expected entropy
   drop, at most ``max_questions_in_row`` replies in a row and never the same slot twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierline.agent.dialog.callbacks import CallbackList
from tierline.agent.dialog.compliance import DncList, InterruptionGate, OptOut
from tierline.agent.dialog.kb import SLOTS, KnowledgeBase, Module
from tierline.agent.dialog.llm_reply import LlmReplier
from tierline.agent.dialog.offers import Offer, OfferEngine, cny
from tierline.agent.dialog.questions import ActiveQuestioner, FixedQuestioner, ScorerProbe
from tierline.agent.dialog.reply import Reply, Segment
from tierline.agent.dialog.slots import SlotTracker
from tierline.agent.dialog.templates import render
from tierline.core.llm import LlmConfig
from tierline.nlu.when import When, parse_when
from tierline.segmentation.features import CustomerProfile
from tierline.segmentation.records import TurnEvidence

if TYPE_CHECKING:
    from tierline.agent.records import TurnRecord
    from tierline.nlu.pipeline import Nlu

log = logging.getLogger(__name__)

_ACK = re.compile(r"^(?:(?:嗯|哦|噢|好的?|明白了?|知道了|了解了?|这样啊|是吗|对|行|可以|你?接着说|"
                  r"你?继续说?|然后呢|还有呢)[，,。.！!…\s]*)+$")
_FILLER = re.compile(r"[\s\W_嗯啊哦呃喂唉哎额噢呀哈嘿哼咦诶欸]+")
_ACCEPT = re.compile(r"^(?:好|可以|行|要|是|嗯|对|转|麻烦|ok)", re.IGNORECASE)
_DECLINE = re.compile(r"^(?:不|别|没|算了)")
_ANSWERING_INTENTS = {"other", "hesitation", "refusal", "churn_signal", "complaint",
                      "purchase_intent", "bulk_purchase"}
_OFFER_INTENTS = {"price_inquiry", "purchase_intent", "bulk_purchase", "product_question",
                  "trial_request", "hesitation", "other", "tech_integration", "customization"}
_MODULE_INTENTS = {"product_question", "price_inquiry", "other"}
CLEAR_INTENT = 0.5
"""An intent this probable is taken as what the caller meant."""


@dataclass(frozen=True)
class DialogConfig:
    """How the dialog manager behaves.

    Attributes:
        confidence: Ask qualification questions while the top tier probability is below this,
            or while an unasked question could still move the tier (``min_information``).
        max_questions_in_row: At most this many consecutive replies end in a question.
        questioner: ``active`` (information gain) or ``fixed`` (``fixed_order``).
        fixed_order: Slot order of the fixed questioner.
        min_gain: Active questioner asks nothing below this information gain, bits.
        min_information: A confident tier is still qualified while some question's answer
            carries at least this many bits about it.
        disclosure: Speak the KB's recording/AI disclosure at the start.
        reprompts: Re-prompts for unclear turns before the transfer offer.
        dnc_path: Do-not-call database, file or URL (None: the CRM database).
        callback_path: Callback requests SQLite file (None:
            ``$TIERLINE_HOME/callbacks.sqlite3``).
        llm: LLM endpoint; None reads ``TIERLINE_LLM_URL`` (unset: templates only).
        use_llm: Set False to never call an LLM even when the environment names one.
    """

    confidence: float = 0.7
    max_questions_in_row: int = 2
    questioner: str = "active"
    fixed_order: tuple[str, ...] = SLOTS
    min_gain: float = 0.01
    min_information: float = 0.2
    disclosure: bool = True
    reprompts: int = 1
    dnc_path: Path | None = None
    callback_path: Path | None = None
    llm: LlmConfig | None = None
    use_llm: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.confidence <= 1:
            raise ValueError(f"confidence must be in (0, 1], got {self.confidence}")
        if self.max_questions_in_row < 0:
            raise ValueError("max_questions_in_row must not be negative")
        if self.questioner not in ("active", "fixed"):
            raise ValueError(f"questioner must be 'active' or 'fixed', not {self.questioner!r}")
        unknown = [s for s in self.fixed_order if s not in SLOTS]
        if unknown:
            raise ValueError(f"unknown slot(s) in fixed_order: {', '.join(unknown)}")


def is_noise(text: str) -> bool:
    """True for empty text, punctuation and filler sounds only (嗯, 喂, 啊...)."""
    return not _FILLER.sub("", text or "")


@dataclass
class _State:
    pending: str | None = None
    questions_in_row: int = 0
    unclear: int = 0
    ended: bool = False
    offered: list[str] = field(default_factory=list)
    intents: set[str] = field(default_factory=set)
    words: list[str] = field(default_factory=list)
    product: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    evidence: list[TurnEvidence] = field(default_factory=list)
    callback_row: int | None = None


class DialogManager:
    """The bot's side of one call.

    Args:
        kb: Knowledge base (:func:`tierline.agent.dialog.kb.load_kb`).
        customer: CRM profile of the caller (offers, scorer rebuilds).
        phone: Caller number for the do-not-call list (None: opt-out ends the call but
            cannot be persisted).
        call_id: Stored with a do-not-call entry.
        config: Behaviour settings.
        nlu: NLU used to simulate answers for the active questioner (default: built lazily).
        dnc: Do-not-call list (default from ``config.dnc_path``).
        callbacks: Callback requests (default from ``config.callback_path``).
        started_at: When the call started (local time; default: now); a callback time
            ("明天下午三点", "半小时后") is resolved against it.
    """

    def __init__(self, kb: KnowledgeBase, customer: CustomerProfile | None = None,
                 phone: str | None = None, call_id: str = "",
                 config: DialogConfig | None = None, nlu: Nlu | None = None,
                 dnc: DncList | None = None, callbacks: CallbackList | None = None,
                 started_at: dt.datetime | None = None) -> None:
        self.kb = kb
        self.customer = customer or CustomerProfile()
        self.phone = phone
        self.call_id = call_id
        self.config = config or DialogConfig()
        self.nlu = nlu
        self.dnc = dnc or DncList(self.config.dnc_path)
        self.callbacks = callbacks or CallbackList(self.config.callback_path)
        self.started_at = started_at or dt.datetime.now()
        self.slots = SlotTracker()
        self.offers = OfferEngine(kb)
        self.opt_out = OptOut(kb.compliance.opt_out_phrases, kb.compliance.opt_out_not_before)
        self.gate = InterruptionGate()
        self.state = _State()
        self._values = self._static_values()
        # the ask/skip test every strategy shares; gains() ignores min_gain, so the active
        # questioner doubles as the gauge and both read one cache of analysed answers
        self._gauge = ActiveQuestioner(kb.questions, self._analyze, self.config.min_gain)
        if self.config.questioner == "fixed":
            self.questioner: ActiveQuestioner | FixedQuestioner = FixedQuestioner(
                self.config.fixed_order)
        else:
            self.questioner = self._gauge
        llm = self.config.llm or (LlmConfig.from_env() if self.config.use_llm else None)
        self.llm = LlmReplier(llm, kb.vendor["name"], self._facts()) if llm else None

    # -- public API ------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self.state.ended

    def opening(self) -> Reply:
        """The first thing the bot says: the disclosure (non-interruptible) and a greeting."""
        segs = []
        if self.config.disclosure:
            segs.append(Segment(self.kb.compliance.disclosure, "disclosure", False))
        segs.append(Segment(self._pick("greeting"), "greeting"))
        return Reply(tuple(segs))

    def interrupt(self, reason: str = "long_turn") -> Reply | None:
        """A lead-in to cut into the caller's speech, at most once per caller turn.

        Args:
            reason: ``long_turn`` or ``opt_out`` (templates ``interruption.<reason>``).

        Returns:
            The interruption, or None when this turn already had one.
        """
        if self.state.ended or not self.gate.allow():
            return None
        text = self.kb.templates.interruption.get(reason,
                                                  self.kb.templates.interruption["long_turn"])
        return Reply((Segment(text, "interruption"),))

    def no_input(self) -> Reply:
        """Reply when the recogniser heard nothing in the caller's turn."""
        if self.state.ended:
            return Reply((), ended=True)
        reply = self._unclear(first_key="no_input")
        self.gate.new_turn()
        return reply

    def respond(self, turn: TurnRecord, scorer: Any = None,
                evidence: TurnEvidence | None = None, nlu: Nlu | None = None) -> Reply:
        """The reply to one decided caller turn.

        Args:
            turn: The turn record (text, intent, entities, tier, route).
            scorer: The call's live tier scorer; with it the next question is chosen actively
                (it is copied, never updated). Without it the fixed order is used.
            evidence: The turn's tier evidence (lets a non-copyable scorer be rebuilt).
            nlu: NLU for simulated answers (default: the one given at construction).

        Returns:
            The reply; ``Reply.ended`` once the bot's part of the call is over.
        """
        if nlu is not None and self.nlu is None:
            self.nlu = nlu
        if evidence is not None:
            self.state.evidence.append(evidence)
        if self.state.ended:
            return Reply((), ended=True)
        try:
            return self._respond(turn, scorer)
        finally:
            self.gate.new_turn()

    # -- the turn --------------------------------------------------------------------------

    def _respond(self, turn: TurnRecord, scorer: Any) -> Reply:
        st = self.state
        text = turn.text or ""
        intent, score = turn.intent
        phrase = self.opt_out.match(text)
        if phrase:
            return self._opt_out(phrase)
        if st.pending == "transfer":
            st.pending = None
            if _ACCEPT.search(text.strip()) and not _DECLINE.search(text.strip()):
                return self._transfer("general", intent)
            if _DECLINE.search(text.strip()):
                st.unclear = 0
                return Reply((Segment(self._pick("greeting"), "greeting"),), intent=intent)
        if turn.route.action == "transfer" and turn.route.queue:
            return self._transfer(turn.route.queue, intent)
        if st.pending == "callback":
            st.pending = None
            return self._callback(text, intent, offered=True)
        if self._busy(text):
            return self._callback(text, intent)
        if is_noise(text):
            return self._unclear()
        pending = st.pending if intent in _ANSWERING_INTENTS else None
        filled = self.slots.update(text, turn.entities, pending)
        st.pending = None
        if intent == "request_human" and not filled:
            # the router did not transfer (the NLU was unsure) and the turn answered nothing:
            # ask before transferring; a turn that filled a slot is read as that answer
            return self._ask_transfer("confirm_transfer", intent)
        if turn.entities.get("product"):
            st.product = turn.entities["product"]
        # a request for a human that reaches this point was not transferred, so its template
        # ("马上为您转接") must not be said
        clear = score >= CLEAR_INTENT and intent not in ("other", "request_human")
        known = self._kb_answer(text, intent if clear else "other")
        ack = bool(_ACK.match(text.strip()))
        on_topic = (clear or filled or known is not None or ack or turn.entities.get("product")
                    or any(w.lower() in text.lower() for w in self.kb.topic_words))
        if not on_topic:
            return self._unclear()
        st.unclear = 0
        if clear:
            st.intents.add(intent)
        st.words.append(text)
        # an answer to our question, or a caller telling us they decide, is no "no"
        engaged = (pending is not None and pending in filled) or (
            "decision_maker" in filled and self.slots.values.get("decision_maker") == "caller")
        if clear and intent == "refusal" and not engaged:
            if turn.tier.label == "low":
                st.ended = True
                return Reply((Segment(self._pick("goodbye_refusal"), "goodbye"),), ended=True,
                             intent=intent)
            st.questions_in_row = self.config.max_questions_in_row  # no pushing after a "no"
        segs: list[Segment] = []
        answer = known
        generic = answer is None and not clear
        if answer is None:
            key = f"intent:{intent}" if clear else "intent:other"
            answer = self._pick(key, self._dynamic_values())
        source = "template"
        if self.llm is not None and answer and not generic:
            worded = self.llm.reword(text, answer)
            if worded:
                answer, source = worded, "llm"
        if answer and not (ack and not clear and not filled):
            segs.append(Segment(answer, "answer"))
        offer = self._offer(intent if clear else "other", turn.tier.label)
        if offer is not None:
            values = {**self._values, "offer": offer.label, "offer_reason": offer.reason}
            segs.append(Segment(self._pick("offer", values), "offer"))
        slot = self._question(turn.tier.scores, scorer)
        if slot is not None:
            segs.append(Segment(self.kb.questions[slot].ask, "question"))
        elif offer is None and generic:
            # Nothing to answer and nothing to ask: invite the caller's question.
            key = "anything_else" if filled or ack else "greeting"
            segs.append(Segment(self._pick(key), "question"))
        return Reply(tuple(segs), question_slot=slot, offer=offer.label if offer else None,
                     source=source, intent=intent)

    def _opt_out(self, phrase: str) -> Reply:
        self.state.ended = True
        if self.phone:
            try:
                self.dnc.add(self.phone, self.call_id, phrase)
            except (ValueError, OSError) as exc:
                log.error("could not record opt-out of %s: %s", self.phone, exc)
        else:
            log.warning("caller opted out (%s) but the call has no phone number", phrase)
        return Reply((Segment(self._pick("goodbye_dnc"), "goodbye", False),), ended=True,
                     dnc=True, intent="refusal")

    def _busy(self, text: str) -> bool:
        """The caller cannot talk now and wants a call later (the call-act model)."""
        model = self.opt_out.model
        return model is not None and model.read(text).label == "callback"

    def _callback(self, text: str, intent: str | None, offered: bool = False) -> Reply:
        """Record the callback the caller asked for and confirm it, or offer one.

        Args:
            text: The caller's turn.
            intent: The turn's intent (kept on the reply).
            offered: The bot asked for a time in its previous reply.
        """
        st = self.state
        when = parse_when(text, self.started_at)
        if when is None and not offered:
            st.callback_row = self._record_callback(None, text)
            st.pending = "callback"
            return Reply((Segment(self._pick("callback_offer"), "question"),),
                         question_slot="callback", intent=intent,
                         callback={"at": None, "said": text, "exact": False})
        if when is not None and st.callback_row is not None:
            try:
                self.callbacks.set_time(st.callback_row, when, text)
            except (OSError, sqlite3.Error) as exc:
                log.error("could not record the callback time of %s: %s", self.phone, exc)
        elif st.callback_row is None:
            st.callback_row = self._record_callback(when, text)
        st.ended = True
        if when is None:
            segment = Segment(self._pick("callback_later"), "goodbye")
            record = {"at": None, "said": text, "exact": False}
        else:
            values = {**self._values, "callback_time": spoken_time(when, self.started_at)}
            segment = Segment(self._pick("callback_confirm", values), "goodbye")
            record = when.to_dict()
        return Reply((segment,), ended=True, intent=intent, callback=record)

    def _record_callback(self, when: When | None, text: str) -> int | None:
        try:
            return self.callbacks.add(self.phone, self.call_id, when, text)
        except (OSError, sqlite3.Error) as exc:
            log.error("could not record the callback of %s: %s", self.phone, exc)
            return None

    def _transfer(self, queue: str, intent: str | None) -> Reply:
        self.state.ended = True
        text = self.kb.templates.transfer.get(queue, self.kb.templates.transfer["general"])
        return Reply((Segment(text, "transfer"),), ended=True, transfer=queue, intent=intent)

    def _unclear(self, first_key: str = "reprompt") -> Reply:
        st = self.state
        st.unclear += 1
        st.pending = None
        if st.unclear <= self.config.reprompts:
            key = first_key if st.unclear == 1 else "reprompt"
            return Reply((Segment(self._pick(key), "reprompt"),), intent="other")
        if st.unclear == self.config.reprompts + 1:
            return self._ask_transfer("offer_transfer", "other")
        return self._transfer("general", "other")

    def _ask_transfer(self, key: str, intent: str) -> Reply:
        """Ask whether the caller wants a human; the next turn's yes transfers."""
        self.state.pending = "transfer"
        return Reply((Segment(self._pick(key), "question"),), question_slot="transfer",
                     intent=intent)

    # -- answers, offers, questions ---------------------------------------------------------

    def _kb_answer(self, text: str, intent: str) -> str | None:
        """FAQ entry or module description the caller's words point at, else None."""
        low = text.lower()
        for entry in self.kb.faq:
            if any(k.lower() in low for k in entry.keywords):
                return entry.answer
        if intent not in _MODULE_INTENTS:
            return None
        module = self._module_in(low)
        if module is not None:
            price = (f"每年{cny(module.price_cny_per_year)}" if module.price_cny_per_year
                     else "不额外收费")
            return f"{module.name}可以做{module.description}，{price}。"
        return None

    def _module_in(self, low: str) -> Module | None:
        for m in self.kb.modules:
            if any(k.lower() in low for k in m.keywords):
                return m
        return None

    def _offer(self, intent: str, tier: str) -> Offer | None:
        st = self.state
        if intent not in _OFFER_INTENTS or tier in ("low", "churn_risk"):
            return None
        offer = self.offers.choose(self.slots.values, st.intents, " ".join(st.words))
        if offer is None or offer.edition in st.offered:
            return None
        st.offered.append(offer.edition)
        return offer

    def _question(self, scores: dict[str, float], scorer: Any) -> str | None:
        st = self.state
        top = max(scores.values()) if scores else 0.0
        candidates = self.slots.missing()
        if not candidates or st.questions_in_row >= self.config.max_questions_in_row:
            st.questions_in_row = 0
            return None
        probe = None
        if scorer is not None:
            probe = ScorerProbe(scorer, st.evidence, factory=self._scorer_factory(scorer))
        if top >= self.config.confidence and not self._answers_can_move(scores, candidates,
                                                                        probe):
            st.questions_in_row = 0
            return None
        choice = self.questioner.choose(scores, candidates, probe)
        if choice.slot is None:
            st.questions_in_row = 0
            return None
        self.slots.asked.append(choice.slot)
        st.pending = choice.slot
        st.questions_in_row += 1
        return choice.slot

    def _answers_can_move(self, scores: dict[str, float], candidates: list[str],
                          probe: ScorerProbe | None) -> bool:
        """Whether some unasked question's answer could still change the tier (information
        gain of at least ``config.min_information`` bits). The same test gates every question
        strategy, so strategies differ only in which question they ask."""
        if probe is None:
            return False
        return max(self._gauge.gains(scores, candidates, probe).values(),
                   default=0.0) >= self.config.min_information

    def _scorer_factory(self, scorer: Any) -> Callable[[], Any]:
        return lambda: type(scorer)(self.customer)

    def _analyze(self, text: str):
        if self.nlu is None:
            from tierline.nlu.pipeline import Nlu

            self.nlu = Nlu()
        return self.nlu.analyze(text)

    # -- templates ---------------------------------------------------------------------------

    def _pick(self, key: str, values: dict[str, str] | None = None) -> str:
        n = self.state.counts.get(key, 0)
        self.state.counts[key] = n + 1
        return render(self.kb.templates.pick(key, n), values or self._values)

    def _dynamic_values(self) -> dict[str, str]:
        """Template values that depend on the call: the asked edition's price, a quote."""
        v = dict(self._values)
        edition = self.kb.edition(self.state.product) if self.state.product else None
        if edition is not None:
            v["edition_prices"] = _prices((edition,))
        seats = self.slots.values.get("seats")
        if seats:
            if edition is None:
                fits = [e for e in self.kb.editions if e.min_seats <= seats <= e.max_seats]
                edition = min(fits or self.kb.editions, key=lambda e: e.price_cny_per_seat_year)
            total = edition.price_cny_per_seat_year * seats
            v["quote"] = f"按{seats}人算，{edition.name}一年大约{cny(total)}。"
        return v

    def _static_values(self) -> dict[str, str]:
        kb = self.kb
        v = dict(kb.facts)
        v.update(vendor=kb.vendor["name"], product=kb.vendor["product"],
                 hotline=kb.vendor["hotline"], integration_systems="、".join(
                     kb.integration_systems),
                 edition_highlights="；".join(f"{e.name}有{e.highlights}" for e in kb.editions),
                 edition_prices=_prices(kb.editions), quote="", offer="", offer_reason="")
        return v

    def _facts(self) -> str:
        kb = self.kb
        lines = [f"{e.name}：每人每年{e.price_cny_per_seat_year:.0f}元，适合{e.min_seats}到"
                 f"{e.max_seats}人，{e.highlights}" for e in kb.editions]
        lines += [f"{m.name}：{m.description}，每年{m.price_cny_per_year:.0f}元"
                  for m in kb.modules]
        lines += [f"{k}：{v}" for k, v in kb.facts.items()]
        lines += [f.answer for f in kb.faq]
        lines.append(f"热线：{kb.vendor['hotline']}")
        return "\n".join(lines)


_WEEKDAYS = "一二三四五六日"
_PERIOD = re.compile(r"凌晨|早上|早晨|上午|中午|晌午|下午|傍晚|晚上|夜里")


def spoken_time(when: When, now: dt.datetime) -> str:
    """A callback time as the bot says it: "12月10日（周四）15:00", "今天14:30"; a vague
    time names the day and the part of the day the caller said ("12月14日（周一）",
    "12月11日（周五）下午"), or keeps the caller's words on the same day ("晚点")."""
    at = when.at
    today = at.date() == now.date()
    day = "今天" if today else f"{at.month}月{at.day}日（周{_WEEKDAYS[at.weekday()]}）"
    if when.exact:
        return f"{day}{at:%H:%M}"
    if today:
        return when.said
    period = _PERIOD.search(when.said)
    return day + (period.group(0) if period else "")


def _prices(editions) -> str:
    return "，".join(f"{e.name}每人每年{e.price_cny_per_seat_year:.0f}元" for e in editions)
