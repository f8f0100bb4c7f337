"""The WhatsApp Cloud API (Graph API) as wawindow calls it: sending messages."""
