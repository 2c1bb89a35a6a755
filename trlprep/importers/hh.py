"""Anthropic HH-RLHF: `"\\n\\nHuman: ...\\n\\nAssistant: ..."` transcripts in `chosen`/`rejected`
-> conversational preference with implicit prompt.

A turn starts at `"\\n\\nHuman:"` or `"\\n\\nAssistant:"` (at the very start of the text the
`"\\n\\n"` may be missing), and the one space after the colon belongs to the marker. A turn's
content is every character up to the next marker, exactly: newlines, spaces and a
"Human:" that does not follow `"\\n\\n"` stay in the text. So for transcripts whose markers
all carry the space, `"".join("\\n\\nHuman: " / "\\n\\nAssistant: " + content)` gives the
original back byte for byte.

Differences from TRL's `examples/datasets/hh-rlhf-helpful-base.py` (`extract_dialogue`):
it strips every turn's whitespace, removes "Human: " / "Assistant: " wherever they appear
inside a turn's first paragraph, and turns an empty final `"\\n\\nAssistant: "` into the
content "Assistant:". Here content is kept as written and an empty turn is reported.

Rows that cannot be imported (reported, with their line): a transcript that is null, has
text before its first marker, has no turns, does not end with an Assistant turn, or ends
with an empty one (`"...\\n\\nAssistant: "`: real HH-RLHF files hold a few, e.g. 4 of the
2,312 rows of harmless-base test; `--on-error skip` sets them aside), and rows whose
messages fail validation (an empty earlier turn, for example).

An empty answer is an `empty-string` error as the completion, chosen or rejected of every
type that holds one, and an LM conversation that ends in it either holds that error or,
with the turn dropped, no answer at all. Only prompt-only data does not hold the answers,
so `keep_empty_turns` (`--keep-empty-turns`) keeps those rows by landing on prompt-only:
the prompt is extracted from chosen and rejected with the empty turn still in place (as
`preference-implicit -> prompt-only` does for every other row), then the answers go.

Dahoas/rm-static's layout (DeepSpeed-Chat's reward data) splits each pair differently: the
transcript up to the final `"\n\nAssistant:"` in `prompt`, the answers alone in `chosen` and
`rejected`; prompt and answer are joined back into whole transcripts, then read as above.

The parse is columnar: markers are replaced by a sentinel character that the batch does not
contain, and the text is split on it with Arrow compute.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_string
from trlprep.converters.arrowops import as_array, offsets, split_strings, string_data
from trlprep.errors import DataError, RowFailures
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import message_struct
from trlprep.registry import PREFERENCE_IMPLICIT, PROMPT_ONLY, DatasetType, Format

HUMAN, ASSISTANT = "Human", "Assistant"
# Characters that never occur in real text, tried in turn as the marker sentinel.
SENTINELS = ("\x00", "\x01", "\ufdd0", "\ufdd1", "\ufdd2", "\ufdd3")
COLUMNS = ("chosen", "rejected")


class HH(Importer):
    name = "hh"
    aliases = ("hh-rlhf", "anthropic-hh")
    description = (
        'Anthropic HH-RLHF transcripts ("\\n\\nHuman: ... \\n\\nAssistant: ...") in chosen and '
        "rejected -> conversational preference with implicit prompt. Turns are parsed "
        "exactly: content keeps its newlines and spaces (only the space after the marker "
        "is dropped); rows without a final Assistant turn, with text before the first "
        "turn or with an empty turn are reported."
    )
    reads = "chosen, rejected (text transcripts) [or prompt transcript + chosen, rejected answers]"
    columns = COLUMNS
    keeps_empty_turns = True

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if not all(c in schema.names and is_string(schema.field(c).type) for c in COLUMNS):
            return False
        if sample is None or sample.num_rows == 0:
            return False
        if "prompt" in schema.names and not _text_prompt(schema):
            return False
        # the transcripts: in chosen, or in the prompt the answers follow (Dahoas/rm-static)
        text = as_array(sample.column("prompt" if _text_prompt(schema) else "chosen")).drop_null()
        human = pc.or_(pc.match_substring(text, "\n\nHuman:"), pc.starts_with(text, "Human:"))
        ok = pc.and_(human, pc.match_substring(text, "\n\nAssistant:"))
        return len(text) > 0 and bool(pc.all(ok).as_py())

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        if opts.keep_empty_turns:
            return PROMPT_ONLY, Format.CONVERSATIONAL
        return PREFERENCE_IMPLICIT, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        steps = [
            'chosen, rejected: split at "\\n\\nHuman:" (-> user) and "\\n\\nAssistant:" '
            "(-> assistant) into message lists",
        ]
        if opts.keep_empty_turns:
            return steps + [
                "the shared opening turns become the prompt; the answers, empty final "
                "Assistant turns included, are dropped (--keep-empty-turns: prompt-only)"
            ]
        return steps + [
            "the shared opening turns are the implicit prompt (`trlprep convert --to "
            "preference` extracts it)",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, *COLUMNS, layout="hh")
        keep = opts.keep_empty_turns
        consumed = COLUMNS
        if _text_prompt(table.schema):  # rm-static: the answers follow the prompt's transcript
            table, consumed = _whole_transcripts(table), (*COLUMNS, "prompt")
        produced = {name: parse_column(table, name, bad, keep) for name in COLUMNS}
        pairs = assemble(table, produced, consumed)
        if not keep:
            return Converted(pairs)
        return _prompt_only(pairs, bad)


def _text_prompt(schema: pa.Schema) -> bool:
    return "prompt" in schema.names and is_string(schema.field("prompt").type)


def _whole_transcripts(table: pa.Table) -> pa.Table:
    """Dahoas/rm-static's rows (DeepSpeed-Chat): a `prompt` transcript ending on
    `"\n\nAssistant:"` and the answers that follow it, made whole transcripts (prompt +
    answer) in chosen and rejected; an answer that holds its own transcript stays as it is."""
    prompt = as_array(table.column("prompt")).cast(pa.large_string())
    for name in COLUMNS:
        answer = as_array(table.column(name)).cast(pa.large_string())
        whole = pc.binary_join_element_wise(prompt, answer, pa.scalar("", pa.large_string()))
        own = pc.fill_null(pc.match_substring(answer, f"\n\n{HUMAN}:"), False)
        column = pc.if_else(own, answer, whole)
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def _prompt_only(pairs: pa.Table, bad: Rejections) -> Converted:
    """The prompts of implicit preference rows (those not already rejected), by the graph's
    own `preference-implicit -> prompt-only` edge; rows it refuses are rejected, and what it
    warns of becomes a note (its row numbers are of this batch, so they are left out)."""
    import warnings

    from trlprep.converters import ConvertOptions
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.implicit import implicit_to_prompt_only

    rows = np.flatnonzero(~bad.mask)
    while True:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConversionWarning)
                out = implicit_to_prompt_only(
                    pairs.take(pa.array(rows, pa.int64())), Format.CONVERSATIONAL, ConvertOptions()
                )
        except RowFailures as e:
            for at, why in zip(e.rows, e.reasons, strict=True):
                bad.add(np.arange(len(bad.mask)) == rows[at], why)
            rows = np.delete(rows, e.rows)
            continue
        notes = [
            "prompt extraction (--keep-empty-turns): some rows: "
            + str(w.message).split(": ", 1)[-1]
            for w in caught
            if issubclass(w.category, ConversionWarning)
        ]
        return Converted(out, rows=rows, notes=notes)


def parse_column(table: pa.Table, name: str, bad: Rejections, keep_empty: bool = False) -> pa.Array:
    """The message lists of one transcript column; rows that cannot be parsed go to `bad`
    (an empty final Assistant turn too, unless `keep_empty`)."""
    field = table.schema.field(name)
    col = as_array(table.column(name))
    if pa.types.is_null(col.type):
        col = col.cast(pa.string())
    if is_json_field(field) or not is_string(col.type):
        raise DataError(
            "must hold text transcripts, not "
            + ("values of mixed kinds" if is_json_field(field) else str(col.type)),
            column=name,
            hint="HH rows hold chosen and rejected as '\\n\\nHuman: ...\\n\\nAssistant: ...' text",
        )
    messages, problems = parse_transcripts(col)
    for why in _REASONS:
        if not (keep_empty and why == "empty-last"):
            bad.add(problems == why, f"{name}: {_REASONS[why]}")
    return messages


_REASONS = {
    "null": "is null",
    "pretext": 'has text before its first "Human:"/"Assistant:" turn',
    "no-turns": 'holds no "\\n\\nHuman:"/"\\n\\nAssistant:" turns',
    "ends-human": "does not end with an Assistant turn",
    # a reason says what is wrong with the row, never "--on-error skip": with skip it was
    # said of rows already set aside (the stop error's hint names the option)
    "empty-last": "ends with an empty Assistant turn (real HH-RLHF files hold a few such rows; "
    "--keep-empty-turns keeps them as prompt-only rows)",
}


def _sentinel(col: pa.Array) -> str | None:
    data = string_data(col)
    for s in SENTINELS:
        if len(s.encode()) == 1:
            present = bool((data == ord(s)).any())  # the raw bytes: no per-row work
        else:
            present = pc.any(pc.fill_null(pc.match_substring(col, s), False)).as_py()
        if not present:
            return s
    return None


def _empty_at(content: pa.Array, index: np.ndarray) -> np.ndarray:
    """Whether the content at each `index` is empty (False where there is no content)."""
    if not len(content):
        return np.zeros(len(index), dtype=bool)
    start, length = offsets(content)
    return length[index] == 0


def parse_transcripts(col: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Message lists of HH transcripts and, per row, a problem code (None where none)."""
    n = len(col)
    col = as_array(col).cast(pa.large_string())
    valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
    mark = _sentinel(col)
    if mark is None:  # every candidate occurs in the text: nothing safe to split on
        raise DataError(
            "the transcripts contain every sentinel character trlprep can split on",
            hint="report this; strip control characters \\x00/\\x01 from the text first",
        )
    bare = pc.or_(pc.starts_with(col, f"{HUMAN}:"), pc.starts_with(col, f"{ASSISTANT}:"))
    if pc.any(bare).as_py():  # a first marker without the blank line before it
        ls = pa.large_string()
        blank = pc.binary_join_element_wise(pa.scalar("\n\n", ls), col, pa.scalar("", ls))
        col = pc.if_else(bare, blank, col)
    text = pc.replace_substring(col, f"\n\n{HUMAN}:", mark + "U")
    text = pc.replace_substring(text, f"\n\n{ASSISTANT}:", mark + "A")
    pieces = pc.split_pattern(text, mark)
    pre = pc.list_element(pc.fill_null(pieces, pa.scalar([""], pieces.type)), 0)
    turns = pc.list_slice(pieces, 1)
    flat = as_array(pc.list_flatten(turns))
    lengths = row_lengths(turns)
    code = pc.utf8_slice_codeunits(flat, 0, 1)
    role = pc.if_else(pc.equal(code, "U"), pa.scalar("user"), pa.scalar("assistant"))
    # content: after the role code, and after the one space that belongs to the marker
    start, length = offsets(flat)
    data = string_data(flat)
    second = np.zeros(len(flat), dtype=np.uint8)
    long = length >= 2
    second[long] = data[start[long] + 1]
    _, content = split_strings(flat, 1 + (second == 0x20).astype(np.int64))
    if string_data(content).size < np.iinfo(np.int32).max:
        content = content.cast(pa.string())  # the usual string type, as readers give
    struct = message_struct({"role": role, "content": content})
    messages = lists_from(struct, lengths, valid)

    problems = np.full(n, None, dtype=object)
    has_pre = np.asarray(
        pc.fill_null(pc.not_equal(pre, ""), False).to_numpy(zero_copy_only=False), bool
    )
    ends = np.cumsum(lengths) - 1
    last = np.where(lengths > 0, ends, 0)
    last_code = (
        np.asarray(
            code.take(pa.array(last, pa.int64())).to_numpy(zero_copy_only=False), dtype=object
        )
        if len(flat)
        else np.full(n, None, dtype=object)
    )
    for mask, why in (
        (~valid, "null"),
        (valid & (lengths == 0), "no-turns"),
        (valid & has_pre, "pretext"),
        (valid & (lengths > 0) & (last_code != "A"), "ends-human"),
        (valid & (lengths > 0) & _empty_at(content, last), "empty-last"),
    ):
        problems[mask & (problems == None)] = why  # noqa: E711
    return messages, problems
