"""The request and answer models of the sandbox API (``/sandbox/...``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from wawindow.entrypoints.api.problems import Problem
from wawindow.entrypoints.sandbox.sandbox import Sender
from wawindow.entrypoints.sandbox.send_requests import phone_digits

PHONE_NUMBER_ID: Final = r"^[0-9]{1,20}$"
BSUID_PATTERN: Final = r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$"
MAX_FAULTS: Final = 100
MAX_FAULT_DELAY: Final = 120.0


class ButtonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=256)
    payload: str | None = Field(default=None, description="Defaults to the text.")
    context_message_id: str | None = Field(
        default=None, description="The template message whose button was tapped."
    )


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1)
    emoji: str = Field(description="Empty to remove a reaction.")


class ReferralIn(BaseModel):
    """The Click-to-WhatsApp ad (or Page post) the user came from; defaults fill the rest."""

    model_config = ConfigDict(extra="forbid")

    source_type: Literal["ad", "post"] = "ad"
    source_id: str | None = None
    source_url: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: Literal["image", "video"] | None = None
    image_url: str | None = None
    ctwa_clid: str | None = Field(default=None, description="Generated when absent.")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    phone_number_id: str = Field(pattern=PHONE_NUMBER_ID, description="The business line.")
    from_: str | None = Field(
        default=None,
        alias="from",
        description="The user's phone number (digits, + and spaces allowed).",
    )
    from_user_id: str | None = Field(
        default=None,
        pattern=BSUID_PATTERN,
        description="The user's business-scoped user id; alone, a user whose number is hidden.",
    )
    name: str | None = Field(default=None, max_length=256, description="The profile name.")
    username: str | None = Field(default=None, max_length=64)

    def sender(self) -> Sender:
        wa_id = None
        if self.from_ is not None:
            wa_id = phone_digits(self.from_)
            if wa_id is None:
                raise Problem(
                    422,
                    "validation_error",
                    "Invalid request",
                    f"not a phone number: {self.from_!r}",
                    field="body.from",
                )
        if wa_id is None and self.from_user_id is None:
            raise Problem(
                422,
                "validation_error",
                "Invalid request",
                "from or from_user_id is required",
                field="body.from",
            )
        return Sender(self.phone_number_id, wa_id, self.from_user_id, self.name, self.username)


class InboundIn(UserIn):
    """What a user sends: exactly one of ``text``, ``button``, ``reaction``."""

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    button: str | ButtonIn | None = Field(default=None, description="A quick-reply button tap.")
    reaction: ReactionIn | None = None
    referral: ReferralIn | None = None


class CallIn(UserIn):
    event: Literal["connect", "terminate"] = "connect"
    call_id: str | None = Field(default=None, description="Of the call to end (``terminate``).")


class WebhookOut(BaseModel):
    number: int = Field(description="Its place in the order of posts.")
    field: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    status_code: int | None
    error: str | None


class InboundOut(BaseModel):
    id: str
    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    body: dict[str, Any] = Field(description="The webhook body posted (as JSON).")
    webhook: WebhookOut


class ClockIn(BaseModel):
    """One of ``advance_seconds``, ``offset_seconds`` or ``at``; and/or ``frozen``."""

    model_config = ConfigDict(extra="forbid")

    advance_seconds: float | None = Field(default=None, ge=-10 * 365 * 86400, le=10 * 365 * 86400)
    offset_seconds: float | None = Field(default=None, ge=-10 * 365 * 86400, le=10 * 365 * 86400)
    at: datetime | None = None
    frozen: bool | None = Field(
        default=None, description="Stop (true) or restart (false) the clock."
    )


class ClockOut(BaseModel):
    now: datetime
    unix: int
    offset_seconds: int = Field(description="From the wall clock.")
    frozen: bool
    era: str | None = Field(description="The pricing era in force now (CBP, PMP-1, PMP-2).")


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(
        default=None, ge=400, le=599, description="HTTP status to answer with."
    )
    error_code: int | None = Field(default=None, ge=1, description="WhatsApp error code (130429…).")
    delay_seconds: float | None = Field(
        default=None,
        ge=0,
        le=MAX_FAULT_DELAY,
        description="Answer this late. Without status/error_code the message is still sent.",
    )


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responses: list[FaultIn] = Field(min_length=1, max_length=MAX_FAULTS)


class FaultsOut(BaseModel):
    pending: list[FaultIn]


class TemplatesLoaded(BaseModel):
    loaded: int
    errors: list[dict[str, Any]] = Field(description="Malformed entries: index and message.")
    templates: int = Field(description="How many templates the sandbox has now.")


class MessagesOut(BaseModel):
    data: list[dict[str, Any]]
    pending_webhooks: int = Field(description="Webhook posts not done yet.")


class SandboxInfo(BaseModel):
    webhook_url: str
    seed: int
    status_delay: float
    display_phone_number: str
    waba_id: str
    access_token_required: bool
    clock: ClockOut
