"""One wording for a value that is not one of an option's choices, in every command:
`unknown --on-error 'skp' (did you mean 'skip'?)`, hint `use one of: stop, skip`."""

from __future__ import annotations

from collections.abc import Iterable

from trlprep.errors import UsageError


def did_you_mean(value: object, allowed: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a value one slip away from an allowed one, else nothing."""
    import difflib

    text = str(value).strip().lower()
    close = difflib.get_close_matches(text, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_choice(flag: str, value: object, allowed: Iterable[str]) -> UsageError:
    """The error for `value` given to `flag` (`--on-error`), which takes only `allowed`."""
    allowed = list(allowed)
    return UsageError(
        f"unknown {flag} {value!r}" + did_you_mean(value, allowed),
        hint="use one of: " + ", ".join(allowed),
    )
