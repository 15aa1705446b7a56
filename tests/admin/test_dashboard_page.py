"""The dashboard page as the function serves it: one self-contained document, a CSP that allows
exactly its inlined style and script, nothing from elsewhere, and no data in it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from capi_writeback.api.dashboard import build_page

from tests.admin.conftest import LambdaContext, load_handler

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "functions" / "dashboard" / "page"


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_is_served_whole_with_a_strict_policy() -> None:
    event = {"resource": "/v1/dashboard", "path": "/v1/dashboard", "httpMethod": "GET", "headers": {},
             "requestContext": {"requestId": "r"}}
    result = load_handler("dashboard")(event, LambdaContext(aws_request_id="r"))
    assert result["statusCode"] == 200
    headers = {k: v[0] for k, v in result["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    html = result["body"]
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert style and script and "/* style */" not in html and "/* script */" not in html
    policy = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert policy["script-src"] == _sha(script.group(1)) and policy["style-src"] == _sha(style.group(1))
    assert policy["frame-ancestors"] == "'none'" and headers["X-Content-Type-Options"] == "nosniff"
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from a CDN or anywhere else
    assert "localStorage" not in html and "sessionStorage" in html  # the token lives in the tab only
    assert "innerHTML" not in html  # API values are written as text, never as markup


def test_every_field_has_a_label() -> None:
    html = (PAGE / "index.html").read_text()
    ids = set(re.findall(r"<(?:input|select)[^>]*\bid=\"([^\"]+)\"", html))
    labelled = set(re.findall(r"<label for=\"([^\"]+)\"", html))
    assert ids and ids <= labelled, ids - labelled


def test_a_page_without_its_slots_is_refused(tmp_path: Path) -> None:
    for name in ("index.html", "style.css", "app.js"):
        (tmp_path / name).write_text((PAGE / name).read_text().replace("/* script */", ""))
    with pytest.raises(ValueError, match="slots"):
        build_page(tmp_path)
