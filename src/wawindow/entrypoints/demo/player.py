"""Plays the story: for each step, move the clock, act, wait for the webhooks, print.

The sandbox's clock stands still during the story (the demo starts it frozen) and
moves only from step to step, to the step's time; wawindow follows it. After each
step the player waits until the sandbox has posted every status webhook, then
prints the narration and the board, and pauses ``pace`` × ``PAUSE_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx
from rich.console import Console

from wawindow.domain.times import iso_z
from wawindow.entrypoints.demo.board import Row, board_table, duration, read_board
from wawindow.entrypoints.demo.clients import SandboxApi, UnexpectedAnswer, WawindowApi
from wawindow.entrypoints.demo.story import CUSTOMERS, Customer, Document, Step

PAUSE_SECONDS: Final = 5.0


@dataclass
class StepRecord:
    number: int
    title: str
    act: str  # the name of the step's function, for ``recall``
    at: datetime
    narration: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)

    def document(self) -> Document:
        return {
            "number": self.number,
            "title": self.title,
            "at": iso_z(self.at),
            "narration": self.narration,
            "outcome": self.outcome,
        }


class Player:
    """The ``Scene`` of the story's steps, over wawindow's API and the sandbox's."""

    def __init__(
        self,
        api: WawindowApi,
        sandbox: SandboxApi,
        console: Console,
        start: datetime,
        pace: float,
        between_steps: Callable[[], None] = lambda: None,
    ) -> None:
        self.api = api
        self.sandbox = sandbox
        self.console = console
        self.start = start
        self.pace = pace
        self.between_steps = between_steps
        self.records: list[StepRecord] = []
        self.board: list[Row] = []

    # -- playing ------------------------------------------------------------------------

    def play(self, steps: Sequence[Step]) -> None:
        for number, step in enumerate(steps, start=1):
            self.between_steps()
            at = self.move_clock(self.start + step.at)
            record = StepRecord(number, step.title, step.act.__name__, at)
            self.records.append(record)
            record.narration = step.act(self)
            self.sandbox.settle()
            self.board = read_board(self.api, CUSTOMERS)
            self._print(record, len(steps), step)
            if number < len(steps):
                time.sleep(PAUSE_SECONDS * self.pace)

    def move_clock(self, at: datetime) -> datetime:
        """Both clocks to ``at`` (never back); the time they read."""
        if at > self.sandbox.now():
            self.sandbox.set_clock(at)
            self.api.wait_for_clock(at, CUSTOMERS[0].phone)
        return self.sandbox.now()

    def _print(self, record: StepRecord, total: int, step: Step) -> None:
        self.console.print()
        self.console.rule(f"[bold]{record.number}/{total}[/bold]  {record.title}", align="left")
        self.console.print(record.narration, highlight=False, markup=False)
        clock = f"{record.at:%a %d %b %Y, %H:%M} UTC (start + {duration(step.at)})"
        self.console.print(board_table(self.board, clock))

    # -- the scene ----------------------------------------------------------------------

    def writes(self, customer: Customer, text: str, referral: Document | None = None) -> str:
        fields: Document = {"text": text}
        if referral is not None:
            fields["referral"] = referral
        return self._inbound(customer, fields)

    def taps(self, customer: Customer, button: str, on_message: str) -> str:
        tap = {"text": button, "context_message_id": on_message}
        return self._inbound(customer, {"button": tap})

    def _inbound(self, customer: Customer, content: Document) -> str:
        posted = self.sandbox.inbound(
            {
                "phone_number_id": self.api.line,
                "from": customer.wa_id,
                "name": customer.name,
                **content,
            }
        )
        message_id: str = posted["id"]
        self.note(inbound_message_id=message_id)
        return message_id

    def send(self, customer: Customer, message: Document, expect: int = 200) -> Document:
        answer = self.api.send({"to": customer.phone, **message})
        return self._answered(answer, expect, "POST /v1/messages")

    def reply(self, customer: Customer, text: str) -> Document:
        contact_id = self.session(customer)["contact_id"]
        answer = self.api.reply(contact_id, text)
        return self._answered(answer, 200, "POST /v1/contacts/{id}/reply")

    def _answered(self, answer: httpx.Response, expect: int, what: str) -> Document:
        if answer.status_code != expect:
            raise UnexpectedAnswer(what, answer)
        if expect == 200:
            self.sandbox.settle()  # its statuses are in wawindow before anyone looks
        document: Document = answer.json()
        return document

    def billing(self, message_id: str) -> Document | None:
        billing: Document | None = self.api.message(message_id)["billing"]
        return billing

    def session(self, customer: Customer) -> Document:
        status = self.api.session_status(customer.phone)
        if status is None:
            raise RuntimeError(f"wawindow does not know {customer.name} ({customer.phone})")
        return status

    def note(self, **outcome: Any) -> None:
        self.records[-1].outcome.update(outcome)

    def recall(self, key: str) -> Any:
        """``"<step's act>.<noted key>"``, e.g. ``template_re_engages_rita.message_id``."""
        act, name = key.split(".", 1)
        for record in self.records:
            if record.act == act and name in record.outcome:
                return record.outcome[name]
        raise KeyError(key)
