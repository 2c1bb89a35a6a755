"""`--role-map` (`role_map=`): parsed and checked against the roles allowed, its keys no
message has refused, and a ready `--role-map` offered for roles with a usual meaning."""

from __future__ import annotations

from trlprep.errors import UsageError
from trlprep.registry import COMMON_ROLE_MAP
from trlprep.validation.rules import ALLOWED_ROLES

_ROLE_LIST = ", ".join(ALLOWED_ROLES)


def parse_role_map(spec: str | dict[str, str] | None) -> dict[str, str]:
    """Parse `human=user,gpt=assistant` (or pass a dict through) into {from: to}."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        pairs = []
        for item in spec.split(","):
            if not item.strip():
                continue
            src, sep, dst = item.partition("=")
            if not sep or not src.strip() or not dst.strip():
                raise UsageError(
                    f"bad --role-map entry {item!r}",
                    hint="write FROM=TO pairs separated by commas, e.g. human=user,gpt=assistant",
                )
            pairs.append((src.strip(), dst.strip()))
    out: dict[str, str] = {}
    for src, dst in pairs:
        if dst not in ALLOWED_ROLES:
            raise UsageError(
                f"--role-map maps {src!r} to {dst!r}, which is not a role",
                hint=f"map to one of: {_ROLE_LIST}",
            )
        out[str(src)] = dst
    return out


def unused_role_map_error(
    role_map: dict[str, str], seen: set[str], *, fold_case: bool = False, layout: str | None = None
) -> UsageError | None:
    """The UsageError for --role-map keys that no message of the whole input has as its
    role (`seen`: every role read; `fold_case`: keys matched case-insensitively, as the
    importers match them), or None when each key was used."""
    import difflib

    said = {s.lower() for s in seen} if fold_case else set(seen)
    unused = [k for k in role_map if (k.lower() if fold_case else k) not in said]
    if not unused:
        return None
    key = unused[0]
    close = difflib.get_close_matches(key.lower() if fold_case else key, sorted(said), n=1)
    where = f"the {layout} layout's" if layout else "the input's"
    return UsageError(
        f"--role-map {key}={role_map[key]}: no message in the input has the role {key!r}"
        + (f" (did you mean {close[0]!r}?)" if close else "")
        + (f"; nor {', '.join(repr(k) for k in unused[1:])}" if len(unused) > 1 else ""),
        hint=(
            f"{where} messages have the roles {', '.join(repr(r) for r in sorted(seen))}"
            if seen
            else f"{where} rows hold no role names --role-map could rename: drop --role-map"
        ),
    )


def role_map_hint(bad_roles: list[str]) -> str | None:
    """A ready --role-map for unknown roles that have a usual meaning (human, gpt, ...)."""
    known = [(r, COMMON_ROLE_MAP[r.lower()]) for r in bad_roles if r.lower() in COMMON_ROLE_MAP]
    if not known:
        return None
    return "try --role-map " + ",".join(f"{src}={dst}" for src, dst in known)
