"""The fix table, error parsing, and configuration from the environment."""

from __future__ import annotations

import pytest
from capi_writeback.meta import MetaClientConfig, fix_for
from capi_writeback.meta.errors import MetaAuthError, MetaError, MetaRejectedError, parse_error_body


@pytest.mark.parametrize(
    ("code", "subcode", "words"),
    [
        (190, 463, "Reconnect Meta"),
        (102, None, "Reconnect Meta"),
        (100, 33, "pixel"),
        (100, 2804003, "too old"),
        (100, 2804016, "not hashed"),
        (100, 2804009, "value and currency"),
        (100, 1234, "parameter"),
        (4, None, "wait"),
        (17, None, "wait"),
        (613, None, "wait"),
        (80004, None, "wait"),
        (250, None, "Permission"),
        (None, None, "retry later"),
        (987654, None, "fbtrace_id"),
    ],
)
def test_fix_table(code: int | None, subcode: int | None, words: str) -> None:
    assert words.lower() in fix_for(code, subcode).lower()


def test_parse_graph_error_body() -> None:
    body = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                      "error_subcode": 2804016, "is_transient": False, "error_user_title": "User Parameter "
                      "Not Hashed", "error_user_msg": "The ct parameter isn't hashed.", "fbtrace_id": "AbC"}}
    error = parse_error_body(body, 400)
    assert (error.code, error.subcode, error.fbtrace_id, error.http_status) == (100, 2804016, "AbC", 400)
    assert error.user_title == "User Parameter Not Hashed" and not error.is_transient
    assert "not hashed" in error.fix.lower()
    assert error.to_dict()["fix"] == error.fix


@pytest.mark.parametrize("body", [None, "<html>", {"oops": 1}, {"error": "text"}, [1, 2]])
def test_parse_junk_bodies(body: object) -> None:
    error = parse_error_body(body, 502)
    assert error.code is None and error.http_status == 502 and error.is_transient
    assert "retry later" in error.fix
    not_found = parse_error_body(body, 404)
    assert not not_found.is_transient and "base URL" in not_found.fix


def test_hierarchy() -> None:
    assert issubclass(MetaAuthError, MetaRejectedError) and issubclass(MetaRejectedError, MetaError)
    error = MetaError("m", code=190, subcode=463, fbtrace_id="t").as_kind(MetaAuthError)
    assert isinstance(error, MetaAuthError) and error.subcode == 463 and "code=190/463" in str(error)


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("META_API_VERSION", "v24.0")
    monkeypatch.setenv("META_CONCURRENCY", "7")
    monkeypatch.setenv("META_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("META_READ_TIMEOUT", "9")
    config = MetaClientConfig.from_env(max_attempts=2)
    assert config.events_url("123") == "http://127.0.0.1:9/v24.0/123/events"
    assert (config.concurrency, config.connect_timeout, config.read_timeout) == (7, 0.5, 9.0)
    assert config.retry_policy.max_attempts == 2
    for name in ("META_BASE_URL", "META_API_VERSION", "META_CONCURRENCY", "META_CONNECT_TIMEOUT",
                 "META_READ_TIMEOUT"):
        monkeypatch.delenv(name)
    default = MetaClientConfig.from_env()
    assert default.events_url("1") == "https://graph.facebook.com/v25.0/1/events"
    assert default.concurrency == 4


def test_ids_cannot_change_the_path() -> None:
    url = MetaClientConfig(base_url="http://127.0.0.1:9").events_url("12/../../other?access_token=x")
    assert url == "http://127.0.0.1:9/v25.0/12%2F..%2F..%2Fother%3Faccess_token%3Dx/events"


def test_config_rejects_oversized_batches() -> None:
    with pytest.raises(ValueError):
        MetaClientConfig(batch_size=1001)
    with pytest.raises(ValueError):
        MetaClientConfig(concurrency=0)
