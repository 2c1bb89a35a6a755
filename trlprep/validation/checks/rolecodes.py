"""Each message's role as a small int (its index in `ALLOWED_ROLES`, after the role map),
read once per distinct role when the roles are dictionary-encoded (Parquet role columns)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
from trlprep.validation.rules import ALLOWED_ROLES

# roles as small ints: index in ALLOWED_ROLES; NO_ROLE for unknown/missing, EMPTY for no message
ROLE_CODES: dict[str, int] = {r: i for i, r in enumerate(ALLOWED_ROLES)}
NO_ROLE, EMPTY = -1, -2


def _apply_role_map(roles: pa.Array, role_map: dict[str, str]) -> pa.Array:
    if not role_map:
        return roles
    keys = pa.array(list(role_map), pa.string())
    values = pa.array(list(role_map.values()), pa.string())
    idx = pc.index_in(roles, keys)
    return pc.if_else(pc.is_null(idx), roles, values.take(idx))


def _lookup(roles: pa.Array, role_map: dict[str, str]) -> np.ndarray:
    codes = pc.index_in(_apply_role_map(roles, role_map), pa.array(ALLOWED_ROLES, pa.string()))
    return np.asarray(pc.fill_null(codes, NO_ROLE).to_numpy(zero_copy_only=False), np.int8)


@dataclass
class Roles:
    """Each message's role code, kept as dictionary indices plus a code per dictionary entry
    when the roles are dictionary-encoded (so most questions cost one pass over int32s)."""

    keys: np.ndarray  # per message: the code, or an index into `per_key`
    per_key: np.ndarray | None
    raw: pa.Array  # the role values, for error details
    nulls: bool = False  # some role is null (its key is the extra last entry of `per_key`)

    def at(self, positions: np.ndarray | slice) -> np.ndarray:
        found = self.keys[positions]
        return found if self.per_key is None else np.take(self.per_key, found)

    def _hits(self, code: int) -> np.ndarray:
        hits = np.flatnonzero(self.per_key == code)
        return hits if self.nulls else hits[hits != len(self.per_key) - 1]

    def absent(self, code: int) -> bool:
        """True when no message can have `code` (known from the dictionary alone)."""
        return self.per_key is not None and not len(self._hits(code))

    def where(self, code: int) -> np.ndarray:
        if self.per_key is None:
            return self.keys == code
        hits = self._hits(code)
        if not len(hits):
            return np.zeros(len(self.keys), dtype=bool)
        if len(hits) == 1:
            return self.keys == hits[0]
        return np.isin(self.keys, hits)


def role_codes(role: pa.Array | None, m: int, role_map: dict[str, str]) -> Roles:
    """ROLE_CODES of each message's role after the role map (NO_ROLE: unknown or missing)."""
    t = role.type if role is not None else None
    if t is not None and pa.types.is_dictionary(t) and is_string(t.value_type):
        per_key = np.append(_lookup(role.dictionary.cast(pa.string()), role_map), NO_ROLE)
        keys = role.indices
        nulls = bool(keys.null_count)
        if nulls:  # a null role points at the extra NO_ROLE entry
            keys = pc.fill_null(keys, len(per_key) - 1)
        return Roles(keys.to_numpy(), per_key.astype(np.int8), role, nulls)
    if t is None or not is_string(t):
        return Roles(np.full(m, NO_ROLE, np.int8), None, pa.nulls(m, pa.string()))
    raw = role.cast(pa.string())
    return Roles(_lookup(raw, role_map), None, raw)


__all__ = ["EMPTY", "NO_ROLE", "ROLE_CODES", "Roles", "role_codes"]
