"""String-column renderers (no per-row Jinja) for ChatML-style templates, used where proven equal.

Two templates qualify: trlprep's `chatml` and `qwen2.5` built-ins, and the original texts they
reproduce (recognised by hash). A batch takes the fast path only when every row is within the
subset of inputs the renderer is proven byte-identical on (tests compare it with the Jinja
render on the parity corpus and on random conversations): message lists with string
contents, roles system/user/assistant, no tools or tool calls, no template kwargs, prompts
ending on a user or assistant turn, completions starting with an assistant turn. Anything
else falls back to Jinja, which also produces the errors.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.arrowtypes import is_json_field, is_messages, is_string

OPEN, CLOSE = "<|im_start|>", "<|im_end|>\n"
HEADER = OPEN + "assistant\n"
QWEN_SYSTEM = (
    OPEN + "system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant." + CLOSE
)
CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG"
ROLES = pa.array(["system", "user", "assistant"])

# sha256 of original template texts these renderers reproduce -> renderer name
KNOWN = {
    # Qwen/Qwen2.5-*-Instruct chat_template (with and without a trailing newline)
    "cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f": "qwen2.5",
    "55b2f4a26ac9ee719330a61a0c39d9e538b0e9322212f048326318cff4f8674a": "qwen2.5",
    # ChatML as installed by TRL's setup_chat_format
    "153280e3ff55d19da1398bdb3914ee2a51b80429bfaedde11d7d216c39db80f3": "chatml",
}


@lru_cache(maxsize=32)
def renderer_for(source: str) -> str | None:
    """'chatml' or 'qwen2.5' when `source` is a template a fast renderer reproduces."""
    from trlprep.templates.builtins import get_builtin

    for name in ("chatml", "qwen2.5"):
        if source == get_builtin(name).source():
            return name
    return KNOWN.get(hashlib.sha256(source.encode("utf-8")).hexdigest())


def try_fast(job, plan, batch: pa.Table) -> dict[str, pa.Array] | None:
    """Rendered columns for `batch` without Jinja, or None when the batch is out of scope."""
    name = renderer_for(job.template.source)
    if name is None or job.tools or batch.num_rows == 0:
        return None
    if not _side_columns_empty(batch):
        return None
    cols = {c: batch.column(c).combine_chunks() for c in plan.content}
    if not all(_plain_messages(batch.schema.field(c), a) for c, a in cols.items()):
        return None
    qwen = name == "qwen2.5"
    out: dict[str, pa.Array] = {}
    for c in plan.wholes:
        out[plan.out_names[c]] = _whole(cols[c], qwen)
    if plan.prompt is None:
        return _as_string(out)
    prompt = cols[plan.prompt]
    last_role = pc.struct_field(_last(prompt), "role")
    if not _all(pc.is_in(last_role, pa.array(["user", "assistant"]))):
        return None
    cont = pc.equal(last_role, "assistant")
    if _any(cont) and _any(pc.match_substring(_contents(prompt), CONTINUE_TAG)):
        return None
    for c in plan.continuations:
        if not _all(pc.equal(pc.struct_field(_first(cols[c]), "role"), "assistant")):
            return None
    whole = _whole(prompt, qwen)
    prompt_text = pc.if_else(
        cont,
        pc.utf8_slice_codeunits(whole, 0, -len(CLOSE)),
        pc.binary_join_element_wise(whole, _L(HEADER), _L("")),
    )
    out[plan.out_names[plan.prompt]] = prompt_text
    for c in plan.continuations:
        turns = _turns(cols[c])
        # after a generation prompt the completion starts past the first assistant header;
        # after a continued turn it starts with that turn's end
        out[plan.out_names[c]] = pc.if_else(
            cont,
            pc.binary_join_element_wise(_L(CLOSE), turns, _L("")),
            pc.utf8_slice_codeunits(turns, len(HEADER)),
        )
    return _as_string(out)


def _as_string(columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    return {k: v.cast(pa.string()) for k, v in columns.items()}


def _side_columns_empty(batch: pa.Table) -> bool:
    for name in ("tools", "chat_template_kwargs"):
        if name not in batch.column_names:
            continue
        col = batch.column(name)
        if col.null_count == len(col):
            continue
        if name == "tools" and pa.types.is_list(col.type):
            lengths = pc.list_value_length(col)
            if pc.max(lengths).as_py() in (None, 0):
                continue
        return False
    return True


def _plain_messages(field: pa.Field, arr: pa.Array) -> bool:
    """String contents and roles, no nulls, no tool calls, allowed roles, non-empty lists."""
    if is_json_field(field) or not is_messages(arr.type) or arr.null_count:
        return False
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        return False
    struct = arr.type.value_type
    for key in ("role", "content"):
        i = struct.get_field_index(key)
        if i < 0 or not is_string(struct.field(i).type):
            return False
    if len(arr) and pc.min(pc.list_value_length(arr)).as_py() == 0:
        return False
    flat = arr.flatten()
    if flat.null_count:
        return False
    roles, contents = pc.struct_field(flat, "role"), pc.struct_field(flat, "content")
    if contents.null_count or roles.null_count or not _all(pc.is_in(roles, ROLES)):
        return False
    if struct.get_field_index("tool_calls") >= 0:
        calls = pc.struct_field(flat, "tool_calls")
        if calls.null_count != len(calls):
            if not pa.types.is_list(calls.type):
                return False
            if (pc.max(pc.list_value_length(calls)).as_py() or 0) > 0:
                return False
    return True


def _turns(arr: pa.ListArray) -> pa.Array:
    """Per row, the ChatML text of all its messages."""
    flat = arr.flatten()
    role = pc.struct_field(flat, "role").cast(pa.large_string())
    content = pc.struct_field(flat, "content").cast(pa.large_string())
    pieces = pc.binary_join_element_wise(_L(OPEN), role, _L("\n"), content, _L(CLOSE), _L(""))
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), pieces), _L(""))


def _whole(arr: pa.ListArray, qwen: bool) -> pa.Array:
    turns = _turns(arr)
    if not qwen:
        return turns
    first_is_system = pc.equal(pc.struct_field(_first(arr), "role"), "system")
    prefix = pc.if_else(first_is_system, _L(""), _L(QWEN_SYSTEM))
    return pc.binary_join_element_wise(prefix, turns, _L(""))


def _L(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _first(arr: pa.ListArray) -> pa.Array:
    return pc.list_element(arr, 0)


def _last(arr: pa.ListArray) -> pa.Array:
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
    starts = arr.offsets.to_numpy()[:-1]
    return arr.values.take(pa.array(starts + lengths - 1))


def _contents(arr: pa.ListArray) -> pa.Array:
    return pc.struct_field(arr.flatten(), "content")


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py()) if len(mask) else True


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py()) if len(mask) else False
