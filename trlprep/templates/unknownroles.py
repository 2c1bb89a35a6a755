"""A warning when messages about to be rendered hold roles that are no chat role (ShareGPT's
`human` / `gpt` inside `messages`): a template renders them as written (ChatML writes
`<|im_start|>human`), where the same rows without a template are refused (`unknown-role`)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_messages
from trlprep.errors import warn_user
from trlprep.registry import EXTRA_ROLES, ROLES


def warn_unknown_roles(table: pa.Table) -> None:
    """Warn, naming the roles and a ready `--role-map` where they have a usual meaning,
    when any message column of `table` holds a role outside TRL's chat roles."""
    from trlprep.converters.arrowops import as_array
    from trlprep.converters.common import ConversionWarning
    from trlprep.validation.rolemap import role_map_hint

    known = pa.array(ROLES + EXTRA_ROLES, pa.string())
    found: dict[str, None] = {}
    for field in table.schema:
        if not is_messages(field.type):
            continue
        col = as_array(table.column(field.name))
        msgs = pc.list_flatten(col)
        if not len(msgs) or msgs.type.get_field_index("role") < 0:
            continue
        roles = pc.struct_field(msgs, "role").cast(pa.string())
        odd = pc.fill_null(pc.invert(pc.is_in(roles, value_set=known)), False)
        if not pc.any(odd).as_py():
            continue
        found.update(dict.fromkeys(pc.unique(roles.filter(odd)).to_pylist()))
    if not found:
        return
    names = [r for r in found if r is not None]
    hint = role_map_hint(names)
    # said alike for every batch holding the same roles: the CLI shows it once
    warn_user(
        "messages hold roles that are no chat role ("
        + ", ".join(repr(r) for r in names)
        + "): the chat template renders them as written"
        + (f"; {hint}" if hint else "; map them with --role-map FROM=TO"),
        ConversionWarning,
    )
