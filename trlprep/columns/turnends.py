"""How each conversation of a messages column ends: its length and the role of its last
message, vectorised with numpy and Arrow only (detection uses it, so it stays light)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_layout


class LastTurns:
    """How each row of a messages column ends: its number of messages and the role of its
    last message (vectorised; role names are looked up only for the rows asked about)."""

    def __init__(self, messages: pa.Array | pa.ChunkedArray) -> None:
        arr = messages
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        length, start = list_layout(arr)
        self.length = np.asarray(length, np.int64)
        start = np.asarray(start, np.int64)
        n = len(arr)
        struct = pc.list_flatten(arr)
        if pa.types.is_struct(struct.type) and struct.type.get_field_index("role") >= 0:
            last = np.where(self.length > 0, start + self.length - 1, -1)
            idx = pa.array(last, pa.int64(), mask=last < 0)
            self.roles = pc.struct_field(struct, "role").take(idx)
        else:
            self.roles = pa.nulls(n, pa.string())

    def ends_on(self, role: str) -> np.ndarray:
        """True where the last message has `role`."""
        hit = pc.fill_null(pc.equal(self.roles, role), False)
        return np.asarray(hit.to_numpy(zero_copy_only=False), bool)

    def role(self, row: int) -> str:
        return self.roles[row].as_py() or ""

    def why_not(self, row: int) -> str:
        """Why `row` has no completion (its last turn, or nothing before it)."""
        if self.length[row] == 0:
            return "the conversation has no messages"
        role = self.role(row)
        if role != "assistant":
            return f"the last turn is {role or 'without a role'!r}, not 'assistant' (no completion)"
        return "the conversation is a single assistant turn: no prompt before it"
