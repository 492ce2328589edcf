"""Security headers on every answer of the back-office (issue 13, fix 7).

* `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` on every answer: a browser
  must not guess a type other than the one sent (a customer's file served as text must not run as
  a script), and a claim's URL must not leak to other sites in Referer.
* A Content-Security-Policy with `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for older
  browsers) on every HTML page, the API docs included: scripts, styles and images of the
  back-office's own origin only, no inline script, not to be framed by any site (clickjacking).
  The staff web UI's pages get it too (htmx is configured by a <meta> and attributes, never by an
  inline script); only where the answer has none yet, so a page that needs another policy (an
  attachment served alone: `default-src 'none'; sandbox`) sets its own and keeps it.

Set when a response is prepared (`on_response_prepare`), not by a middleware over the returned
response: a streamed answer (the CSV export) sends its headers from inside its handler, before any
middleware would see it, and static files and aiohttp's own errors are prepared there too.
"""

from __future__ import annotations

from aiohttp import web

EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HTML_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HTML_PAGE = {
    "Content-Security-Policy": HTML_CSP,
    "X-Frame-Options": "DENY",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`app.on_response_prepare` hook: the headers above, keeping any the handler set itself."""
    headers = response.headers
    for name, value in EVERY_ANSWER.items():
        headers.setdefault(name, value)
    if response.content_type == "text/html":
        for name, value in HTML_PAGE.items():
            headers.setdefault(name, value)
