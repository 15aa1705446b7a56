"""The floor of `bench_build`: the least a sender of these rows must do, as a whole process.

    python bench/floor_build.py ROWS.jsonl > OUT

Reads JSON Lines, SHA-256es the nine PII fields after strip/lower, copies the rest into a dict of
the shape of a Meta event, and writes one `json.dumps` line per row: no normalization, no
validation, no match quality. Standard library only, so its start-up is the interpreter's alone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

PII = {"email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "city": "ct", "state": "st",
       "zip": "zp", "country": "country", "gender": "ge"}


def main(path: str) -> int:
    sha256 = hashlib.sha256
    write = sys.stdout.write
    with open(path, "rb") as rows:
        for line in rows:
            row = json.loads(line)
            user_data: dict[str, Any] = {
                key: [sha256(str(row[field]).strip().lower().encode()).hexdigest()]
                for field, key in PII.items() if field in row
            }
            for key in ("client_ip_address", "client_user_agent", "fbp"):
                user_data[key] = row[key]
            event = {"event_name": row["outcome_type"], "event_time": row["occurred_at"],
                     "event_id": "cw-" + row["conversion_id"], "action_source": "system_generated",
                     "user_data": user_data,
                     "custom_data": {"value": row["value"], "currency": row["currency"]}}
            write(json.dumps(event) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
