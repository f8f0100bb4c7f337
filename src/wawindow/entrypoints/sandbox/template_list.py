"""The sandbox's message templates, loaded from WhatsApp's own template listing.

``GET /{WABA_ID}/message_templates`` answers ``{"data": [{"name", "language",
"status", "category", "id", "components": [...]}, ...]}``; the sandbox takes that
document (``--templates FILE.json``, ``POST /sandbox/templates``) and reads it with
wawindow's own reader (``service.templates_registry.parse_listing``). A template's
category decides how its messages are priced; its status and body decide whether
a send of it is accepted (``check_send``), with the errors WhatsApp gives:

- no template of that name in that language (or not yet approved): 132001;
- paused: 132015; disabled: 132016;
- not exactly the body parameters it takes: 132000.

Meta's ``hello_world`` (en_US, utility) is there from the start, as in a new account.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from wawindow.domain.templates import (
    Template,
    TemplateStatus,
    check_parameters,
    find_template,
    normalise_status,
)
from wawindow.entrypoints.sandbox.graph_errors import (
    TEMPLATE_DISABLED,
    TEMPLATE_NOT_FOUND,
    TEMPLATE_PARAMS,
    TEMPLATE_PAUSED,
    GraphError,
)
from wawindow.entrypoints.sandbox.send_requests import TemplateCall
from wawindow.service.templates_registry import EntryError, parse_listing

HELLO_WORLD: Final[dict[str, Any]] = {
    "name": "hello_world",
    "parameter_format": "POSITIONAL",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
        {
            "type": "BODY",
            "text": "Welcome and congratulations!! This message demonstrates your ability to "
            "send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank "
            "you for taking the time to test with us.",
        },
        {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
    ],
    "language": "en_US",
    "status": "APPROVED",
    "category": "UTILITY",
    "id": "1192339204654487",
}


class TemplateList:
    """Templates by (name, language); a template listed again replaces the earlier one."""

    def __init__(self) -> None:
        self._listed: dict[tuple[str, str], tuple[dict[str, Any], Template]] = {}
        self.load({"data": [HELLO_WORLD]})

    def load(self, document: object) -> tuple[int, list[EntryError]]:
        """Add the templates of a listing; how many, and the entries that were malformed.

        Raises ``ValueError`` when the document is not a listing at all.
        """
        templates, errors = parse_listing(document)
        entries = document.get("data") if isinstance(document, dict) else document
        assert isinstance(entries, list)  # parse_listing has checked it
        bad = {error.index for error in errors}
        raw = [entry for index, entry in enumerate(entries) if index not in bad]
        for entry, template in zip(raw, templates, strict=True):
            key = (template.name, template.language.replace("-", "_").casefold())
            self._listed[key] = (dict(entry), template)
        return len(templates), errors

    def templates(self) -> Iterable[Template]:
        return (template for _, template in self._listed.values())

    def listing(self) -> dict[str, Any]:
        """The templates as WhatsApp lists them."""
        return {"data": [entry for entry, _ in self._listed.values()]}

    def check_send(self, call: TemplateCall) -> tuple[Template | None, GraphError | None]:
        """The template a send names, or the error WhatsApp answers it with."""
        template = find_template(self.templates(), call.name, call.language)
        missing = TEMPLATE_NOT_FOUND.with_details(
            f"template name ({call.name}) does not exist in {call.language}"
        )
        if template is None:
            return None, missing
        status = normalise_status(template.status)
        if status == TemplateStatus.PAUSED:
            return template, TEMPLATE_PAUSED.with_details(f"template {call.name} is paused")
        if status == TemplateStatus.DISABLED:
            return template, TEMPLATE_DISABLED.with_details(f"template {call.name} is disabled")
        if not template.sendable:
            return template, missing  # not approved (yet): WhatsApp does not know it for sends
        problem = None
        if template.parameters_known:
            problem = check_parameters(template, call.body_parameters)
        if problem is not None:
            return template, TEMPLATE_PARAMS.with_details(f"body: {problem.message}")
        return template, None
