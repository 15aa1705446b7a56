"""The token never leaks (URLs, logs, exceptions, results) and comes from Secrets Manager, rotated."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback.meta import (
    CredentialsError,
    MetaAuthError,
    MetaCredentials,
    SecretsManagerCredentials,
)
from capi_writeback.meta.errors import parse_error_body
from capi_writeback_local.meta_emulator import MetaEmulator
from moto import mock_aws

from .conftest import PIXEL, SECRET_ID, TOKEN, ClientFactory, make_events


def test_token_is_absent_from_urls_logs_errors_and_results(
    emulator: MetaEmulator, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    emulator.inject("code_17", count=1)
    emulator.inject("code_190", after=2, count=1)  # the 3rd request: `auth`
    client = make_client()
    ok = client.send(PIXEL, SECRET_ID, make_events(3))
    auth = client.send(PIXEL, SECRET_ID, make_events(3))
    bad = client.send(PIXEL, SECRET_ID, make_events(2, bad={1}))
    failed = client.send("42", SECRET_ID, make_events(1))
    ledger = emulator.ledger()
    assert len(ledger) == 6
    assert all(not entry["token_in_url"] and TOKEN not in entry["path"] for entry in ledger)
    assert all(entry["token_source"] == "body" for entry in ledger if entry["fault"] is None)
    assert caplog.records, "the client logs retries and batch outcomes"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in json.dumps(record.__dict__, default=str)
    for result in [*ok, *auth, *bad, *failed]:
        assert TOKEN not in json.dumps(result.to_dict()) and TOKEN not in repr(result)
        if result.error is not None:
            assert TOKEN not in str(result.error) and TOKEN not in repr(result.error)
    assert isinstance(auth[0].error, MetaAuthError)


def test_meta_echoing_the_token_is_scrubbed() -> None:
    body = {"error": {"message": f"bad token {TOKEN}", "code": 190, "error_user_msg": TOKEN}}
    error = parse_error_body(body, 400, scrub=TOKEN)
    assert TOKEN not in str(error) and TOKEN not in json.dumps(error.to_dict())


def test_credentials_repr_hides_secrets() -> None:
    credentials = MetaCredentials(TOKEN, "app-secret-xyz")
    assert TOKEN not in repr(credentials) and "app-secret-xyz" not in repr(credentials)
    assert TOKEN not in str(credentials)


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"access_token": "old-token"}))
        yield client


def test_secrets_manager_credentials_cache_and_invalidate(secrets: Any) -> None:
    source = SecretsManagerCredentials(max_age=300)
    assert source.get(SECRET_ID).access_token == "old-token"
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps({"access_token": "new-token",
                                                                            "app_secret": "as"}))
    assert source.get(SECRET_ID).access_token == "old-token"  # cached
    source.invalidate(SECRET_ID)
    fresh = source.get(SECRET_ID)
    assert (fresh.access_token, fresh.app_secret) == ("new-token", "as")


def test_rotated_secret_is_picked_up_after_max_age(secrets: Any) -> None:
    source = SecretsManagerCredentials(max_age=1)
    assert source.get(SECRET_ID).access_token == "old-token"
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps({"access_token": "new-token"}))
    time.sleep(1.1)
    assert source.get(SECRET_ID).access_token == "new-token"


@pytest.mark.parametrize(
    "value", ["not json", json.dumps({"token": "x"}), json.dumps({"access_token": ""}), json.dumps([1])]
)
def test_malformed_secret_is_a_typed_error(secrets: Any, value: str) -> None:
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=value)
    with pytest.raises(CredentialsError) as caught:
        SecretsManagerCredentials(max_age=0).get(SECRET_ID)
    assert "Reconnect Meta" in caught.value.fix


def test_missing_secret_raises_before_sending(
    secrets: Any, emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    with pytest.raises(CredentialsError):
        make_client(SecretsManagerCredentials()).send(PIXEL, f"{SECRET_ID}-missing", make_events(1))
    assert emulator.ledger() == []


def test_190_refetches_the_rotated_secret_once_and_succeeds(
    secrets: Any, emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    emulator.add_token("old-token")
    client = make_client(SecretsManagerCredentials(max_age=300), concurrency=4, batch_size=10)
    assert client.send(PIXEL, SECRET_ID, make_events(10))[0].status == "accepted"
    # rotation: Meta revokes the old token; the secret now holds the new one (cache still old)
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps({"access_token": "new-token"}))
    emulator.remove_token("old-token")
    emulator.add_token("new-token")
    emulator.reset()
    results = client.send(PIXEL, SECRET_ID, make_events(40))
    assert [r.status for r in results] == ["accepted"] * 4
    refused = [e for e in emulator.ledger() if e["status"] == 400]
    assert 1 <= len(refused) <= 4  # at most one 190 per in-flight batch, then the new token
    assert len(emulator.received_events(PIXEL)) == 40


def test_190_with_unchanged_secret_fails_fast(
    secrets: Any, emulator: MetaEmulator, make_client: ClientFactory
) -> None:
    [result] = make_client(SecretsManagerCredentials()).send(PIXEL, SECRET_ID, make_events(1))
    assert isinstance(result.error, MetaAuthError) and result.error.code == 190
    assert len(emulator.ledger()) == 1
