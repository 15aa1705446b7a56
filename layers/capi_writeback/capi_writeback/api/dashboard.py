"""GET /v1/dashboard: one self-contained page for owners and admins (SPEC §11.2).

The page is assembled once per cold start from its three files (`index.html`, `style.css`,
`app.js` in the function's `page/` folder): the style and the script are inlined, so the answer is a
single document that loads nothing else, from a CDN or anywhere. The route has no authorizer: the
page holds no data. It asks for an API token once, keeps it in the tab's sessionStorage (never in a
URL) and calls the API with it. A Content-Security-Policy allows exactly the inlined style and script
(by hash), API calls to the same origin, and nothing else (no frames, forms posting elsewhere, or
plugins).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from capi_writeback.api.app import LambdaHandler, make_handler

PATH = "/v1/dashboard"
STYLE_SLOT = "/* style */"
SCRIPT_SLOT = "/* script */"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def build_page(folder: Path) -> tuple[str, dict[str, str]]:
    """The page with its style and script inlined, and the headers it is served with."""
    html = (folder / "index.html").read_text(encoding="utf-8")
    style = (folder / "style.css").read_text(encoding="utf-8")
    script = (folder / "app.js").read_text(encoding="utf-8")
    if html.count(STYLE_SLOT) != 1 or html.count(SCRIPT_SLOT) != 1:
        raise ValueError("index.html must hold the style and script slots exactly once")
    page = html.replace(STYLE_SLOT, style).replace(SCRIPT_SLOT, script)
    policy = "; ".join((
        "default-src 'none'", f"script-src {_sha256(script)}", f"style-src {_sha256(style)}",
        "connect-src 'self'", "img-src 'self' data:", "base-uri 'none'", "form-action 'none'",
        "frame-ancestors 'none'"))
    headers = {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
    return page, headers


def dashboard_handler(folder: Path) -> LambdaHandler:
    """The dashboard function's handler, serving the page built from `folder`."""
    page, headers = build_page(folder)

    def register(app: APIGatewayRestResolver) -> None:
        @app.get(PATH, include_in_schema=False)
        def dashboard() -> Response[str]:
            return Response(status_code=200, content_type="text/html; charset=utf-8", body=page,
                            headers=headers)

    return make_handler(extras=(register,))
