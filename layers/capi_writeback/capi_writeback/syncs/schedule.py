"""Schedule expressions of a sync: EventBridge Scheduler's `rate(...)` and `cron(...)` forms.

Checked when a sync is saved, so a typo is a VALIDATION_ERROR naming the problem rather than a
schedule that never fires. `rate(N unit)` says the unit in the singular for 1 and the plural
otherwise (as Scheduler requires); a rate is at least MIN_RATE_MINUTES apart (a run takes time; a
sync every minute would mostly find its previous run still going). `cron(min hour day-of-month
month day-of-week year)` has six fields, exactly one of the two day fields `?`.
"""

from __future__ import annotations

import re

MIN_RATE_MINUTES = 5
_RATE = re.compile(r"rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)")  # fullmatch: no "\n" after
_CRON = re.compile(r"cron\((.*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/#-]+")
_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_EXAMPLES = "e.g. rate(15 minutes), rate(1 hour) or cron(0/30 * * * ? *)"


def schedule_problem(expression: str) -> str | None:
    """What is wrong with `expression`, or None when Scheduler will accept it."""
    text = expression.strip()
    if text != expression or not text:
        return f"write the expression without surrounding blanks, {_EXAMPLES}"
    rate = _RATE.fullmatch(text)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        singular = unit.rstrip("s")
        if amount < 1:
            return "a rate must be at least 1"
        if (amount == 1) != (unit == singular):
            right = singular if amount == 1 else singular + "s"
            return f"write rate({amount} {right}): Scheduler wants the singular for 1, the plural otherwise"
        if amount * _MINUTES[singular] < MIN_RATE_MINUTES:
            return f"runs must be at least {MIN_RATE_MINUTES} minutes apart"
        return None
    if text.startswith("rate("):
        return f"a rate is rate(<number> minutes|hours|days), {_EXAMPLES}"
    cron = _CRON.fullmatch(text)
    if cron:
        parts = cron.group(1).split(" ")
        if len(parts) != 6:
            return ("a cron expression has six fields: minutes hours day-of-month month day-of-week year, "
                    f"{_EXAMPLES}")
        if not all(_CRON_FIELD.fullmatch(p) for p in parts):
            return "a cron field holds digits, names, and , - * ? / L W # only"
        if (parts[2] == "?") == (parts[4] == "?"):
            return "exactly one of day-of-month and day-of-week must be ?"
        if parts[0] in ("*", "0/1", "*/1"):
            return f"runs must be at least {MIN_RATE_MINUTES} minutes apart"
        return None
    return f"use rate(...) or cron(...), {_EXAMPLES}"
