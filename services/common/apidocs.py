"""Self-hosted API documentation for any FastAPI app: Swagger UI at /docs, ReDoc at /redoc.

The council network is offline, so the pages load nothing from the internet: the Swagger UI and
ReDoc bundles are served by the app itself from the installed ``fastapi-offline`` package's static
folder (mounted at ``assets_url``), Swagger UI's online validator badge is off, ReDoc's Google
Fonts are not linked, and every page carries a Content-Security-Policy that lets the browser load
from the app's own origin only (inline scripts and styles are FastAPI's page templates; ReDoc
compiles schemas with ``new Function``). ReDoc's sidebar always links its maker's site with a logo
from its CDN: the link is hidden and the policy blocks the logo, so nothing leaves the machine
(``REDOC_BRANDING``; the browser test allows that one blocked load). ``page`` renders a plain
documentation page (problem type pages, for instance) with the same policy. Paths honour the ASGI
``root_path`` (behind a proxy).

Usage: ``FastAPI(docs_url=None, redoc_url=None)`` then ``mount_api_docs(app)``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "CONTENT_SECURITY_POLICY", "REDOC_BRANDING", "mount_api_docs", "page"]

ASSETS = Path(str(resources.files("fastapi_offline") / "static"))
"""swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png, as installed."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)
REDOC_BRANDING = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one outside address ReDoc's bundle tries to load; the policy refuses it."""
_REDOC_STYLE = '<style>a[href*="redocly.com"]{display:none !important}</style>'
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}


def mount_api_docs(
    app: FastAPI,
    *,
    docs_url: str = "/docs",
    redoc_url: str = "/redoc",
    assets_url: str = "/docs/assets",
) -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` for ``app.openapi_url``."""
    if not (ASSETS / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"the API docs' assets are missing from {ASSETS}: reinstall")
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the app serves no OpenAPI document (openapi_url=None)")
    app.mount(assets_url, StaticFiles(directory=ASSETS), name="api-docs-assets")

    def urls(request: Request) -> tuple[str, str]:
        """The document's and the assets' URLs as the browser must ask for them."""
        root = request.scope.get("root_path", "")
        return f"{root}{openapi_url}", f"{root}{assets_url}"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        document, assets = urls(request)
        response = get_swagger_ui_html(
            openapi_url=document,
            title=f"{app.title} — API reference",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
        )
        return HTMLResponse(bytes(response.body), headers=_HEADERS)

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        document, assets = urls(request)
        body = get_redoc_html(
            openapi_url=document,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        ).body
        page = bytes(body).replace(b"</head>", _REDOC_STYLE.encode() + b"</head>", 1)
        return HTMLResponse(page, headers=_HEADERS)


def page(
    title: str,
    sections: Sequence[tuple[str, str]],
    *,
    links: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """A plain, self-contained HTML page: a title, ``(heading, text)`` sections and
    ``(href, label)`` links, every text escaped (backticks become ``<code>``)."""
    body = "".join(
        f"<h2>{html.escape(heading)}</h2><p>{_inline(text)}</p>" for heading, text in sections
    )
    if links:
        items = "".join(
            f'<li><a href="{html.escape(href, quote=True)}">{_inline(label)}</a></li>'
            for href, label in links
        )
        body += f"<ul>{items}</ul>"
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status_code, headers=_HEADERS)


def _inline(text: str) -> str:
    """Escaped text with `code spans` marked up."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


_STYLE = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#1b1b1b}"
    "main{max-width:46rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#f2f2f2;padding:0 .2em;border-radius:3px}"
    "h2{font-size:1.1rem;margin-top:1.5rem}"
)
