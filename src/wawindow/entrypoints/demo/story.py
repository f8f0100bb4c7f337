"""The demo's story: three customers, and the steps they and the business play.

- **Ada** comes from a Click-to-WhatsApp ad. The business replies within 24 hours,
  which opens a free entry point: 72 hours in which every message to her is free,
  so a template sent two days later costs nothing.
- **Quinn** writes, gets an answer and goes quiet: his conversation turns inactive
  after 30 minutes and ends 24 hours after the last message; his window closes, and
  a free-form message is then refused with ``window_closed``.
- **Rita** goes quiet too; once her window has closed, a marketing template brings
  her back, and her answer opens a new window.

Each step happens at a set time from the start of the story (the player moves the
sandbox's clock there, and wawindow follows it), does its part through a ``Scene``,
and returns the one-line narration of what just happened. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    phone: str  # E.164
    role: str

    @property
    def wa_id(self) -> str:
        return self.phone.removeprefix("+")


ADA: Final = Customer("Ada", "+5511998765432", "came from your ad")
QUINN: Final = Customer("Quinn", "+16505550102", "writes, then goes quiet")
RITA: Final = Customer("Rita", "+4915112345678", "a template brings her back")
CUSTOMERS: Final = (ADA, QUINN, RITA)


class Scene(Protocol):
    """What a step can do (the player does it, over HTTP)."""

    def writes(self, customer: Customer, text: str, referral: Document | None = None) -> str:
        """The customer writes (through the sandbox); the message id."""

    def taps(self, customer: Customer, button: str, on_message: str) -> str:
        """The customer taps a quick-reply button of a message; the message id."""

    def send(self, customer: Customer, message: Document, expect: int = 200) -> Document:
        """``POST /v1/messages`` to the customer; the answer (``expect``: its status)."""

    def reply(self, customer: Customer, text: str) -> Document:
        """``POST /v1/contacts/{id}/reply``; the answer."""

    def billing(self, message_id: str) -> Document | None:
        """The message's billing, as ``GET /v1/messages/{id}`` shows it."""

    def session(self, customer: Customer) -> Document:
        """``GET /v1/session-status`` with the customer."""

    def note(self, **outcome: Any) -> None:
        """Keep what the step found out, for the summary (``--json``)."""

    def recall(self, key: str) -> Any:
        """A value an earlier step noted."""


Act = Callable[[Scene], str]


@dataclass(frozen=True, slots=True)
class Step:
    at: timedelta  # from the start of the story
    title: str
    act: Act


def billing_text(billing: Document | None) -> str:
    """``free (free_entry_point)``, ``marketing, 0.0625 USD``, or ``not billed yet``."""
    if billing is None:
        return "not billed yet"
    if not billing["billable"]:
        return f"free ({billing['type']})"
    price = billing.get("price")
    cost = f"{price} {billing['currency']}" if price is not None else "billable"
    return f"{billing['category']}, {cost}"


# --------------------------------------------------------------------------- Ada


AD: Final[Document] = {
    "source_type": "ad",
    "source_id": "120210000000000001",
    "source_url": "https://fb.me/trail-runner",
    "headline": "Trail Runner: waterproof, 20% off this week",
    "body": "Tap to ask us anything on WhatsApp.",
    "media_type": "image",
}


def ada_writes_from_the_ad(scene: Scene) -> str:
    scene.writes(ADA, "Hi! Are the Trail Runners waterproof?", referral=AD)
    return (
        "Ada taps your Click-to-WhatsApp ad and writes: her 24-hour window opens, and a "
        "reply within 24 hours will open a free entry point."
    )


def you_reply_to_ada(scene: Scene) -> str:
    sent = scene.send(ADA, {"text": "They are, fully! And 20% off this week."})
    billing = scene.billing(sent["message_id"])
    fep = scene.session(ADA)["free_entry_point"]
    scene.note(message_id=sent["message_id"], billing=billing, free_entry_point=fep)
    return (
        "You reply (POST /v1/messages): the reply opens Ada's free entry point, 72 hours in "
        f"which every message to her is free; this one: {billing_text(billing)}."
    )


def ada_orders(scene: Scene) -> str:
    scene.writes(ADA, "Great, I'll take the blue ones in size 38.")
    return "Ada orders: every message from her starts her 24-hour window again."


def ada_gets_a_free_template(scene: Scene) -> str:
    message = {
        "template": {
            "name": "order_update",
            "language": "en_US",
            "parameters": ["Ada", "A-1042"],
        }
    }
    sent = scene.send(ADA, message)
    billing = scene.billing(sent["message_id"])
    fep = scene.session(ADA)["free_entry_point"]
    scene.note(message_id=sent["message_id"], billing=billing, free_entry_point=fep)
    return (
        "The next day Ada's window is closed, but her free entry point is still open: "
        f"the utility template order_update to her is {billing_text(billing)}."
    )


# --------------------------------------------------------------------------- Quinn


def quinn_asks_about_his_order(scene: Scene) -> str:
    scene.writes(QUINN, "Hi, is my order A-1038 on its way?")
    return "Quinn writes: his 24-hour window opens and a conversation starts."


def you_answer_quinn(scene: Scene) -> str:
    sent = scene.reply(QUINN, "Yes, it ships tomorrow morning.")
    billing = scene.billing(sent["message_id"])
    scene.note(message_id=sent["message_id"], billing=billing)
    return (
        "You answer Quinn (POST /v1/contacts/{id}/reply): a service message inside his "
        f"window, {billing_text(billing)}."
    )


def free_form_to_quinn_is_refused(scene: Scene) -> str:
    refusal = scene.send(QUINN, {"text": "Good news: your order has shipped!"}, expect=403)
    scene.note(refusal=refusal)
    names = ", ".join(template["name"] for template in refusal.get("templates", []))
    return (
        f"A free-form message to Quinn is refused: {refusal['status']} "
        f"{refusal['type'].rsplit('/', 1)[-1]} (his window ended at {refusal['expired_at']}); "
        f"the answer lists the templates you may send instead: {names}."
    )


# --------------------------------------------------------------------------- Rita


def rita_asks_for_a_size(scene: Scene) -> str:
    scene.writes(RITA, "Do you have the Trail Runner in size 42?")
    return "Rita writes: her window opens and a conversation starts."


def you_answer_rita(scene: Scene) -> str:
    scene.send(RITA, {"text": "Not right now, sorry! We'll tell you when it's back."})
    return "You answer Rita. Then all three go quiet."


def template_re_engages_rita(scene: Scene) -> str:
    message = {
        "template": {
            "name": "back_in_stock",
            "language": "en_US",
            "parameters": ["Rita", "Trail Runner in size 42"],
        }
    }
    sent = scene.send(RITA, message)
    billing = scene.billing(sent["message_id"])
    scene.note(message_id=sent["message_id"], billing=billing)
    return (
        "Templates may go at any time: back_in_stock reaches Rita "
        f"({billing_text(billing)}). It starts a conversation but does not open her window."
    )


def rita_answers(scene: Scene) -> str:
    scene.taps(RITA, "Reserve it", on_message=scene.recall("template_re_engages_rita.message_id"))
    session = scene.session(RITA)
    scene.note(window_active=session["window_active"], expires_at=session["expires_at"])
    return (
        "Rita taps Reserve it: a new 24-hour window opens, so free-form messages may "
        "go to her again."
    )


# --------------------------------------------------------------------------- everyone


def conversations_go_inactive(scene: Scene) -> str:
    return (
        "35 minutes pass: 30 minutes without a message make a conversation inactive. "
        "The windows stay open."
    )


def windows_about_to_close(scene: Scene) -> str:
    return "23 hours later: every window has less than an hour left."


def windows_closed(scene: Scene) -> str:
    quinn = scene.session(QUINN)
    scene.note(quinn=quinn)
    return (
        "An hour later the windows have closed, and 24 hours after their last message the "
        "conversations have ended. Ada's free entry point is still open."
    )


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def hours(count: int, and_minutes: int = 0) -> timedelta:
    return timedelta(hours=count, minutes=and_minutes)


STEPS: Final = (
    Step(minutes(0), "Ada writes from your ad", ada_writes_from_the_ad),
    Step(minutes(2), "You reply to Ada", you_reply_to_ada),
    Step(minutes(5), "Ada orders", ada_orders),
    Step(minutes(10), "Quinn writes", quinn_asks_about_his_order),
    Step(minutes(11), "You answer Quinn", you_answer_quinn),
    Step(minutes(15), "Rita writes", rita_asks_for_a_size),
    Step(minutes(17), "You answer Rita", you_answer_rita),
    Step(minutes(52), "35 minutes of silence", conversations_go_inactive),
    Step(hours(23, 30), "23 hours later", windows_about_to_close),
    Step(hours(24, 30), "The windows close", windows_closed),
    Step(hours(24, 31), "A free-form message to Quinn", free_form_to_quinn_is_refused),
    Step(hours(24, 40), "A template to Rita", template_re_engages_rita),
    Step(hours(24, 45), "Rita answers", rita_answers),
    Step(hours(47), "A template to Ada", ada_gets_a_free_template),
)
"""The story, in time order."""
