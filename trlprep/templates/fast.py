"""String-column renderers (no per-row Jinja) for common templates, used where proven equal.

Three template families qualify: trlprep's `chatml`, `qwen2.5` and `llama3` built-ins, and
the original texts they reproduce (recognised by hash). A batch takes the fast path only when
every row is within the subset of inputs the renderer is proven byte-identical on (tests
compare it with the Jinja render on the parity corpus and on random conversations): message
lists with string contents, roles system/user/assistant, no tools or tool calls, no
reasoning field (the Jinja path counts the rows whose reasoning a render drops), no template
kwargs, prompts ending on a user turn (or, for ChatML and Qwen 2.5, an assistant turn to
continue), completions starting with an assistant turn; for Llama 3 a BOS token, and no
content that starts or ends with whitespace other than ASCII (its `trim` is Python's).
Anything else falls back to Jinja, which also produces the errors.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_messages, is_string
from trlprep.columns.textops import join_lists
from trlprep.templates.template import REASONING_FIELDS

OPEN, CLOSE = "<|im_start|>", "<|im_end|>\n"
HEADER = OPEN + "assistant\n"
L3_OPEN, L3_CLOSE, L3_END = "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>"
L3_HEADER = L3_OPEN + "assistant" + L3_CLOSE
ASCII_SPACE = " \t\n\r\x0b\x0c"
# Characters Python's str.strip() removes beyond ASCII whitespace: rows with one in the
# whitespace at either end of a content go to Jinja rather than rely on Arrow agreeing.
OTHER_SPACE = (
    r"[\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
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
    # examples/tiny-chat-model (the built-in ChatML without its comment and indentation)
    "3708327fce50a0f0813e605223a75cb6f8aab187d2faad2d80d51b3de31412c5": "chatml",
    # meta-llama/Meta-Llama-3-*-Instruct chat_template (with and without a trailing newline)
    "ba03a121d097859c7b5b9cd03af99aafe95275210d2876f642ad9929a150f122": "llama3",
    "0a3182e4b5ea175fc6daf849d2c9e7a47ce8e15b8cb8a654b64980ebfdc0b196": "llama3",
}


@lru_cache(maxsize=32)
def renderer_for(source: str) -> str | None:
    """'chatml', 'qwen2.5' or 'llama3' when `source` is a template a fast renderer
    reproduces."""
    from trlprep.templates.builtins import get_builtin

    for name in ("chatml", "qwen2.5", "llama3"):
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
    style = _Style(name, job.template.bos_token)
    if style.llama and (style.bos is None or not all(_trimmable(a) for a in cols.values())):
        return None
    out: dict[str, pa.Array] = {}
    for c in plan.wholes:
        out[plan.out_names[c]] = style.whole(cols[c])
    if plan.prompt is None:
        return _as_string(out)
    prompt = cols[plan.prompt]
    last_role = pc.struct_field(_last(prompt), "role")
    if not _all(pc.is_in(last_role, pa.array(style.prompt_ends))):
        return None
    cont = pc.equal(last_role, "assistant")
    if _any(cont) and _any(pc.match_substring(_contents(prompt), CONTINUE_TAG)):
        return None
    for c in plan.continuations:
        if not _all(pc.equal(pc.struct_field(_first(cols[c]), "role"), "assistant")):
            return None
    whole = style.whole(prompt)
    prompt_text = pc.if_else(
        cont,
        pc.utf8_slice_codeunits(whole, 0, -len(CLOSE)),
        pc.binary_join_element_wise(whole, _L(style.header), _L("")),
    )
    out[plan.out_names[plan.prompt]] = prompt_text
    for c in plan.continuations:
        turns = style.turns(cols[c])
        # after a generation prompt the completion starts past the first assistant header;
        # after a continued turn (ChatML only) it starts with that turn's end
        out[plan.out_names[c]] = pc.if_else(
            cont,
            pc.binary_join_element_wise(_L(CLOSE), turns, _L("")),
            pc.utf8_slice_codeunits(turns, len(style.header)),
        )
    return _as_string(out)


class _Style:
    """What differs between the renderers: each message's text, what opens a conversation,
    the generation prompt, and which final prompt turns are in scope."""

    def __init__(self, name: str, bos: str | None) -> None:
        self.name, self.bos, self.llama = name, bos, name == "llama3"
        self.header = L3_HEADER if self.llama else HEADER
        self.prompt_ends = ["user"] if self.llama else ["user", "assistant"]

    def turns(self, arr: pa.ListArray) -> pa.Array:
        """Per row, the text of all its messages."""
        flat = arr.flatten()
        role = pc.struct_field(flat, "role").cast(pa.large_string())
        content = pc.struct_field(flat, "content").cast(pa.large_string())
        if self.llama:
            content = pc.utf8_trim(content, ASCII_SPACE)
            parts = (_L(L3_OPEN), role, _L(L3_CLOSE), content, _L(L3_END))
        else:
            parts = (_L(OPEN), role, _L("\n"), content, _L(CLOSE))
        return join_lists(arr, pc.binary_join_element_wise(*parts, _L("")), "")

    def whole(self, arr: pa.ListArray) -> pa.Array:
        """Per row, the conversation rendered whole (no generation prompt)."""
        turns = self.turns(arr)
        if self.llama:
            return pc.binary_join_element_wise(_L(self.bos), turns, _L(""))
        if self.name != "qwen2.5":
            return turns
        first_is_system = pc.equal(pc.struct_field(_first(arr), "role"), "system")
        prefix = pc.if_else(first_is_system, _L(""), _L(QWEN_SYSTEM))
        return pc.binary_join_element_wise(prefix, turns, _L(""))


def _trimmable(arr: pa.ListArray) -> bool:
    """No content starts or ends with whitespace Python strips but ASCII trimming keeps."""
    contents = _contents(arr)
    ascii_space = r"[\t\n\x{0b}\x{0c}\r ]*"
    edge = f"^{ascii_space}{OTHER_SPACE}|{OTHER_SPACE}{ascii_space}$"
    return not _any(pc.match_substring_regex(contents, edge))


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
    for key in REASONING_FIELDS:
        if struct.get_field_index(key) >= 0:
            if pc.struct_field(flat, key).null_count != len(flat):
                return False
    if struct.get_field_index("tool_calls") >= 0:
        calls = pc.struct_field(flat, "tool_calls")
        if calls.null_count != len(calls):
            if not pa.types.is_list(calls.type):
                return False
            if (pc.max(pc.list_value_length(calls)).as_py() or 0) > 0:
                return False
    return True


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
