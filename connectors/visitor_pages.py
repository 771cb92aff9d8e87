"""What a visitor's browser gets from the tracker when it is not JSON: the redirect to the
landing page and the plain error pages (also for paths no route matches under /c/)."""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

NO_STORE = {"Cache-Control": "no-store"}


def redirect(url: str) -> HTMLResponse:
    """302 with the short hypertext note RFC 9110 suggests, for clients that do not follow."""
    note = f'<!doctype html><p>Redirecting to <a href="{html.escape(url)}">the landing page</a>.</p>'
    return HTMLResponse(note, 302, headers={**NO_STORE, "Location": url})


def page(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A plain page a visitor can read; the message is escaped (it can echo the link's code)."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f'<p style="color: #666">Error {status}</p></body></html>'
    )
    return HTMLResponse(body, status, headers={**NO_STORE, **(headers or {})})
