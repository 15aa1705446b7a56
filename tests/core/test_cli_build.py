"""`capi-writeback build` end to end on the sample files (SPEC §7)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.hashing import is_hashed
from capi_writeback_local.cli import main

from .conftest import NOW

DATA = Path(__file__).resolve().parent.parent / "data"


def run_build(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["build", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_jsonl_sample(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run_build(capsys, "--input", str(DATA / "conversions.jsonl"), "--now", str(NOW))
    assert code == 0 and err == ""
    assert [line["row"] for line in lines] == list(range(13))
    skipped = {line["row"]: line["skipped"]["reason"] for line in lines if "skipped" in line}
    assert skipped == {4: "MISSING_EVENT_SOURCE_URL", 5: "EVENT_TOO_OLD", 6: "PURCHASE_MISSING_CURRENCY",
                       7: "NO_CUSTOMER_IDENTIFIERS", 9: "INVALID_EVENT_NAME", 10: "INVALID_ROW",
                       11: "MISSING_TIMESTAMP"}
    events = [line for line in lines if "event" in line]
    assert [e["event"]["event_name"] for e in events] == ["Purchase", "Purchase", "Lead", "Schedule",
                                                          "qualified_demo", "Search"]
    assert events[0]["match_quality"] == "great"
    for line in events:
        assert set(line) == {"row", "event", "match_quality", "warnings"}
        assert_meta_valid(line["event"])
    assert any("milliseconds" in w for w in events[1]["warnings"])


def test_csv_sample_with_profile_country(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run_build(capsys, "--input", str(DATA / "conversions.csv"), "--now", str(NOW),
                               "--country", "us")
    assert code == 0
    assert [line.get("skipped", {}).get("reason") for line in lines] == [
        None, None, None, "PURCHASE_MISSING_VALUE", "UNKNOWN_OUTCOME_TYPE"]
    first = lines[0]["event"]
    assert first["custom_data"] == {"value": 1234.5, "currency": "USD"}
    assert len(lines[1]["event"]["user_data"]["em"]) == 2
    for line in lines[:3]:
        assert_meta_valid(line["event"])


def test_stdin_and_identical_output_for_identical_input(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = (DATA / "conversions.jsonl").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    _, from_stdin, _ = run_build(capsys, "--now", str(NOW))
    _, from_file, _ = run_build(capsys, "--input", str(DATA / "conversions.jsonl"), "--now", str(NOW))
    assert from_stdin == from_file


@pytest.mark.parametrize("make_input", [
    lambda tmp: str(tmp / "missing.jsonl"),
    lambda tmp: str(tmp),
    lambda tmp: _write(tmp / "binary.jsonl", b"\xff\xfe\x00garbage\x80"),
])
def test_unreadable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                make_input: Any) -> None:
    code = main(["build", "--input", make_input(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("capi-writeback build: cannot read")


def test_garbage_rows_never_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ['{"conversion_id": {"x": 1}, "occurred_at": [1]}', '{"email": 5, "phone": true}', "null", "{}",
            '{"conversion_id": 1, "occurred_at": 1e400, "outcome_type": 7}',
            '{"conversion_id": "c", "occurred_at": 1763890000, "event_name": "Lead", "em": {"a": 1},'
            ' "value": [], "contents": "{bad", "content_ids": {}, "num_items": "many"}']
    path = _write(tmp_path / "rows.jsonl", "\n".join(rows).encode())
    code, lines, _ = run_build(capsys, "--input", path, "--now", str(NOW))
    assert code == 0 and [line["row"] for line in lines] == list(range(len(rows)))
    assert all("skipped" in line for line in lines)


def test_console_script_runs_as_a_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "capi_writeback_local.cli", "build", "--input", str(DATA / "conversions.csv"),
         "--now", str(NOW), "--country", "us"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 5


def assert_meta_valid(event: dict[str, Any]) -> None:
    """The rules the Meta emulator enforces (CAPI-REFERENCE §9), checked independently here."""
    assert {"event_name", "event_time", "user_data", "action_source"} <= set(event)
    assert isinstance(event["event_time"], int) and NOW - 7 * 86400 <= event["event_time"] <= NOW + 60
    for key, value in event["user_data"].items():
        if key in ("client_ip_address", "client_user_agent", "fbc", "fbp"):
            assert isinstance(value, str)
        else:
            assert isinstance(value, list) and value and all(is_hashed(v) for v in value), key
    if event["event_name"] == "Purchase":
        assert isinstance(event["custom_data"]["value"], (int, float))
        assert len(event["custom_data"]["currency"]) == 3


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_settings_file_applies_mappings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = {"country": "GB", "currency": "GBP", "event_mapping": {"Deal Won": "Purchase"},
                "column_mapping": {"Kunde": "email", "Betrag": "value", "Art": "outcome_type"}}
    settings_path = _write(tmp_path / "settings.json", json.dumps(settings).encode())
    rows = _write(tmp_path / "rows.csv",
                  b"conversion_id,Art,occurred_at,Kunde,Betrag,phone\n"
                  b"d-1,Deal Won,1763890000,a@example.com,10,07911 123456\n")
    code, lines, _ = run_build(capsys, "--input", rows, "--settings", settings_path, "--now", str(NOW))
    assert code == 0
    event = lines[0]["event"]
    assert event["event_name"] == "Purchase"
    assert event["custom_data"] == {"value": 10, "currency": "GBP"}
    assert len(event["user_data"]["ph"]) == 1 and lines[0]["warnings"] == []


def test_bad_settings_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", "--input", str(DATA / "conversions.csv"),
                 "--settings", _write(tmp_path / "s.json", b"{not json")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("now", ["nan", "inf", "-inf", "-1", "soon", "", "1763900000000"])
def test_now_must_be_a_plausible_unix_time_in_seconds(now: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--input", str(DATA / "conversions.jsonl"), f"--now={now}"])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert "--now" in err and "unix time in seconds" in err


GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize(("name", "extra", "golden"), [
    ("conversions.jsonl", [], "build-conversions.jsonl.out"),
    ("conversions.csv", [], "build-conversions.csv.out"),
    ("conversions.csv", ["--country", "us"], "build-conversions.csv-country-us.out"),
])
def test_output_is_byte_identical_to_the_reference(name: str, extra: list[str], golden: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The reference files are main's output before the streaming rewrite (issue 10): streaming
    changes nothing a user sees. (Since then only two skip details changed, on purpose: they no longer
    echo the offending value, issue 9.)"""
    assert main(["build", "--input", str(DATA / name), "--now", str(NOW), *extra]) == 0
    assert capsys.readouterr().out == (GOLDEN / golden).read_text("utf-8")


def test_bad_rows_anywhere_cost_one_row_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps({"conversion_id": "c", "occurred_at": NOW - 60, "event_name": "Lead",
                       "email": "a@example.com"})
    lines = [good.replace('"c"', f'"c{i}"').encode() for i in range(6)]
    lines[1] = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    lines[2] = b'{"conversion_id": "x", "occurred_at": ' + b"9" * 5001 + b"}"
    lines[3] = b'{"conversion_id": "\xff"}'
    separated = {"conversion_id": "c4", "occurred_at": NOW - 60, "event_name": "Lead",
                 "email": "a@example.com", "first_name": "Ann\u2028Marie"}
    lines[4] = json.dumps(separated, ensure_ascii=False).encode()
    assert "\u2028".encode() in lines[4]
    code, out, err = run_build(capsys, "--input", _write(tmp_path / "rows.jsonl", b"\n".join(lines)),
                               "--now", str(NOW))
    assert code == 0 and err == ""
    assert [line["row"] for line in out] == list(range(6))
    assert [line.get("skipped", {}).get("reason") for line in out] == [
        None, "INVALID_ROW", "INVALID_ROW", "INVALID_ROW", None, None]
    assert "nested too deeply" in out[1]["skipped"]["detail"]
    assert "too many digits" in out[2]["skipped"]["detail"]
    assert "UTF-8" in out[3]["skipped"]["detail"]


def test_a_huge_csv_field_costs_one_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("conversion_id;occurred_at;event_name;email\n"
            f"c1;{NOW - 60};Lead;a@example.com\n"
            f"c2;{NOW - 60};Lead;{'x' * 200_000}\n"
            f"c3;{NOW - 60};Lead;c@example.com\n")
    path = _write(tmp_path / "rows.csv", text.encode())
    code, out, _ = run_build(capsys, "--input", path, "--now", str(NOW))
    assert code == 0
    assert [line.get("skipped", {}).get("reason") for line in out] == [None, "INVALID_ROW", None]


def test_a_csv_header_that_is_not_understood_exits_2_saying_so(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "rows.csv", b"c1:a@example.com:Lead\nc2:b@example.com:Lead\n")
    code = main(["build", "--input", path, "--now", str(NOW)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "header was not understood" in err
    assert "a@example.com" not in err  # the first line may be data: never echo it


def test_output_is_written_chunk_by_chunk_as_rows_are_read() -> None:
    """With more rows than a chunk, the first lines are out before the input has ended."""
    import os
    import select

    from capi_writeback_local.commands.build import CHUNK_ROWS

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "capi_writeback_local.cli", "build", "--now", str(NOW)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        row = {"conversion_id": "c", "occurred_at": NOW - 60, "event_name": "Lead", "email": "a@example.com"}
        for i in range(2 * CHUNK_ROWS + 1):  # ~100 bytes a row: all of it fits in the pipe
            row["conversion_id"] = f"c{i}"
            proc.stdin.write(json.dumps(row).encode() + b"\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output while the input is still open"
        assert json.loads(proc.stdout.readline())["row"] == 0
    finally:
        proc.stdin.close()
        proc.stdout.read()
        proc.wait(timeout=60)
    assert proc.returncode == 0


@pytest.mark.parametrize("accelerated", [True, False])
def test_lines_are_what_json_dumps_writes(accelerated: bool) -> None:
    from capi_writeback.built import BuiltEvent
    from capi_writeback.events import stream_events
    from capi_writeback.reading import read_rows
    from capi_writeback.settings import ProfileSettings
    from capi_writeback_local.commands.build import _line, json_encoder

    rows = list(read_rows((DATA / "conversions.jsonl").read_bytes()))
    rows.append({"conversion_id": "ü\"\\\u2028", "occurred_at": NOW - 60, "event_name": "Lead",
                 "email": "a@example.com", "order_id": "Ωmega \"quoted\"", "value": 1.5e-7})
    encode = json_encoder(accelerated)
    lines = [row for chunk in stream_events(rows, ProfileSettings(), NOW) for row in chunk.rows]
    for row in lines:
        if isinstance(row, BuiltEvent):
            obj: dict[str, Any] = {"row": row.index, "event": row.event, "match_quality": row.match_quality,
                                   "warnings": row.warnings}
        else:
            obj = {"row": row.index, "skipped": {"reason": str(row.reason), "detail": row.detail}}
        assert _line(row, encode) == json.dumps(obj, ensure_ascii=False) + "\n"
    assert "Ωmega" in _line(lines[-1], encode)
