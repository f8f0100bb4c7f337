"""``wawindow sandbox``: a local stand-in for the WhatsApp Cloud API.

It serves the send endpoint (``POST /{version}/{phone_number_id}/messages``) the way
WhatsApp does, keeps its own view of every user's service window and free entry
point, and posts signed webhooks (inbound messages, calls, statuses with the pricing
of the era) to one webhook URL, so that wawindow, or any Cloud API client, can be
run and tested end to end without Meta.

Modules, each for one thing:

- ``simulation``: WhatsApp's rules as the sandbox plays them (window, free entry
  point, billing conversations, what becomes of a message). Pure.
- ``send_requests``: reading and validating Cloud API send requests. Pure.
- ``graph_errors``: the Graph API's error documents and codes. Pure.
- ``webhook_bodies``: Meta's webhook bodies (inbound, statuses, calls). Pure.
- ``users``, ``template_list``, ``clock``, ``ids``: the sandbox's users, templates,
  clock and id source.
- ``delivery``: posting signed webhooks in order, with retries (httpx).
- ``message_log``: what was sent and received, and each webhook's fate.
- ``sandbox``: the state of one running sandbox, tying the above together.
- ``cloud_api``: the Cloud API routes, answered as WhatsApp answers.
- ``control_api`` (and ``control_models``): the ``/sandbox/...`` routes.
- ``app``: the FastAPI application.
"""
