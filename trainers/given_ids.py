"""Whether a tokenised file's own ids (`trlprep convert --tokenize` output) are trained on, or
its text is tokenised again: the options the file records (`templates.tokenrecord`) against
the run's.

- a `--chat-template`, `--template-kwarg`s or `--tools` other than those the text was rendered
  with are refused (`UsageError`);
- ids made by another tokenizer (another fingerprint, or an id beyond the vocabulary) are
  refused (`DataError`, exit 1): neither the ids nor text rendered for that tokenizer fit;
- ids the run's `max_length` / `truncation_mode` cannot be cut from exactly (cut shorter,
  or from the other end, than the run asks), or stepwise ids made with another step
  separator: the text columns, which `convert` leaves whole, are tokenised again as the file
  was (rendered chat text: no BOS or EOS added; standard text: the EOS appended) with the
  run's options, and a note names the option, both values and what to pass to train on the
  file's ids instead;
- without a record (JSON Lines, files written by other tools) only what the ids show is
  checked: the vocabulary, a pair file's `*_prompt_start` columns (cut with keep_end) against
  a keep_start run (refused, `UsageError`: the text cannot be tokenised again without knowing
  how it was rendered), and stepwise ids' separator (tokenised again: stepwise text gets no
  BOS or EOS either way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import DataError, UsageError
from trlprep.templates.refit import check_vocabulary, steps_end_with
from trlprep.templates.tokenrecord import (
    described,
    read_record,
    refit_problem,
    template_identity,
    tokenizer_identity,
)


@dataclass
class Choice:
    """The id columns to train on (`given`, empty: tokenise the text) and whether the text
    is chat-rendered (tokenised without an added BOS or EOS)."""

    given: tuple[str, ...]
    templated: bool
    table: pa.Table


def choose(
    table: pa.Table,
    dtype: str,
    given: tuple[str, ...],
    tokenizer: Any,
    *,
    templated: bool,
    max_length: int | None,
    truncation: str,
    step_separator: str | None,
    path: str | None = None,
    chat_template: Any = None,
    template_kwargs: dict[str, Any] | None = None,
    tools: list | None = None,
    tools_file: str | None = None,
    layout: str = "",
    log: Callable[[str], None] = lambda _: None,
    input_rows: Sequence[int] | None = None,
    input_lines: Sequence[int] | None = None,
) -> Choice:
    """Judge a table's id columns `given` (see the module docstring); `max_length` and
    `truncation` are the cut the run will make (the layout's: None for reward rows, keep_end
    for prompts). `path` names the file in messages; `chat_template`: the run's
    `--chat-template`, refused when the file's text was rendered with another (so are
    `template_kwargs` and `tools`: `tools_file` names the file they were read from);
    `input_rows`/`input_lines`: each row's input row and file line, for messages."""
    record = read_record(table.schema)
    if record is not None and record.get("chat_template") is not None:
        templated = True  # the text was rendered: tokenised again, it gets no BOS/EOS added
        if chat_template is not None:
            made, name = record["chat_template"], path or "the data"
            _same_template(made, chat_template, tokenizer, name, template_kwargs)
        if template_kwargs is not None:
            _same_kwargs(record["chat_template"], template_kwargs, path or "the data")
        if tools is not None:
            _same_tools(record["chat_template"], tools, tools_file, path or "the data")
        said = rendered_as_recorded(record["chat_template"])
        if said:
            log(f"note: {path + ': ' if path else ''}its text was {said} (as the file records)")
    if not given:
        return Choice((), templated, table)
    name = path or "the data"
    try:
        check_vocabulary(
            table, given, tokenizer, path, input_rows=input_rows, input_lines=input_lines
        )
        if record is not None:
            _same_tokenizer(record, tokenizer, name)
    except DataError as e:  # its text too was made for the other model, if a template rendered it
        if not _chat_rendered(table, record):
            raise
        raise DataError(
            e.message, hint=retokenise_hint(tokenizer, chat_template), path=e.path, line=e.line,
            row=e.row, column=e.column,
        ) from e  # fmt: skip
    why = _separator_problem(table, dtype, tokenizer, record, step_separator)
    if why is None and record is not None:

        def ids() -> pa.Table:
            return table.select(list(given))

        def steps() -> pa.ChunkedArray | None:
            if dtype != "stepwise-supervision" or "completions" not in table.column_names:
                return None
            return pc.list_value_length(table.column("completions")).fill_null(0)

        why = refit_problem(record, ids, max_length=max_length, truncation=truncation, steps=steps)
        if why is not None:
            why += "; " + _instead(record, layout, max_length)
    elif record is None:
        _keep_end_pairs(table, truncation, max_length, name)
    if why is None:
        return Choice(given, templated, table)
    log(
        f"note: {path + ': ' if path else ''}its token ids are not used, its text is "
        "tokenised again (as "
        f"`convert --tokenize` tokenised it, with this run's options): {why}"
    )
    return Choice((), templated, table.drop_columns([c for c in given if c in table.column_names]))


def _instead(record: dict[str, Any], layout: str, max_length: int | None) -> str:
    """What to do to train on the file's ids: the options to pass, or (where the layout fixes
    the cut) how to tokenise the file."""
    if layout == "prompts":
        return (
            "generation prompts always keep their end: to use the file's ids, tokenise it "
            "with `--truncation keep_end` (or no --max-length)"
        )
    if layout == "scored-pairs":
        return (
            "reward rows are never cut (those longer than max_length are dropped): to use "
            "the file's ids, tokenise it without --max-length"
        )
    made = record.get("max_length")
    if max_length is not None and made is not None and max_length <= made:
        made = max_length  # the run's own max length is no longer than the file's
    use = described({**record, "max_length": made}).replace("--truncation", "--truncation-mode")
    shorter = "" if made != record.get("max_length") else " (or a shorter max length)"
    return f"to train on the file's ids instead, pass {use}{shorter}"


def _same_tokenizer(record: dict[str, Any], tokenizer: Any, name: str) -> None:
    """Refuse ids whose recorded tokenizer is not the model's (another fingerprint)."""
    made = record.get("tokenizer") or {}
    own = tokenizer_identity(tokenizer)
    if made.get("fingerprint") in (None, own["fingerprint"]):
        return
    size = made.get("vocab_size")
    size = f"{size:,}" if isinstance(size, int) else "?"
    raise DataError(
        f"{name} was tokenised with the tokenizer {made.get('name') or '?'} (vocabulary "
        f"{size}, fingerprint {made.get('fingerprint')}), not the "
        f"model's {own['name'] or '?'} (vocabulary {own['vocab_size']:,}, fingerprint "
        f"{own['fingerprint']})",
        hint=f"tokenise it with the model's tokenizer (`trlprep convert --tokenize --tokenizer "
        f"{own['name'] or 'MODEL'}`), or drop the id columns to tokenise the text",
    )


def _chat_rendered(table: pa.Table, record: dict[str, Any] | None) -> bool:
    """Whether `table`'s text was rendered with a chat template: its record says so, or
    (without one) its text holds a template's turn markers."""
    if record is not None:
        return record.get("chat_template") is not None
    from trlprep.columns.prerendered import prerendered_rows

    return bool(len(prerendered_rows(table, tuple(table.column_names))[0]))


def retokenise_hint(tokenizer: Any, chat_template: Any = None) -> str:
    """What to do with ids, and text rendered with a chat template, both made for another
    tokenizer than the model's: tokenising that text again would train on the other
    model's rendering (its turn markers), so the conversations are rendered again."""
    model = getattr(tokenizer, "name_or_path", "") or "MODEL"
    template = f" --chat-template {chat_template}" if isinstance(chat_template, str) else ""
    return (
        "its text is rendered with a chat template for that tokenizer, so tokenising it again "
        "would train on another model's rendering: convert the conversational data again "
        f"with this model's tokenizer (`trlprep convert DATA{template} --tokenize --tokenizer "
        f"{model} -o OUT`) and train on that, or train on the untokenised conversational file "
        "(rendered with this model's chat template, or --chat-template)"
    )


def _same_template(
    made: dict[str, Any],
    chat_template: Any,
    tokenizer: Any,
    name: str,
    template_kwargs: dict[str, Any] | None = None,
) -> None:
    """Refuse a `--chat-template` other than the one the file's text was rendered with: the
    text cannot be rendered again (it holds no messages)."""
    from trlprep.templates.sources import load_template

    own = template_identity(load_template(chat_template, tokenizer, template_kwargs))
    if own is None or own["sha256"] == made.get("sha256"):
        return
    raise UsageError(
        f"{name}: its text was rendered with the chat template {made.get('name') or '?'} "
        f"(source sha256 {made.get('sha256')}); this run's --chat-template {chat_template} "
        f"is another ({own['sha256']}), and rendered text cannot be rendered again",
        hint="drop --chat-template to train on the text as it was rendered, or convert the "
        f"conversational data again with `trlprep convert --chat-template {chat_template} "
        "--tokenize`",
    )


def _same_kwargs(made: dict[str, Any], template_kwargs: dict[str, Any], name: str) -> None:
    """Refuse `--template-kwarg`s other than those the file's text was rendered with (a file
    recording none was rendered without): its text cannot be rendered again."""
    import json
    import shlex

    given = json.loads(json.dumps(template_kwargs, default=str))
    if given == (made.get("kwargs") or {}):
        return
    from trlprep.trainers.convert_command import kwarg_text

    said = lambda kw: ", ".join(f"{k}={kwarg_text(v)}" for k, v in kw.items()) or "none"  # noqa: E731
    flags = " ".join(
        f"--template-kwarg {shlex.quote(f'{k}={kwarg_text(v)}')}" for k, v in given.items()
    )
    raise UsageError(
        f"{name}: its text was rendered with the template kwargs {said(made.get('kwargs') or {})}; "
        f"this run's --template-kwarg {said(given)} differ, and rendered text cannot be "
        "rendered again",
        hint="drop --template-kwarg to train on the text as it was rendered, or convert the "
        f"conversational data again with `trlprep convert ... {flags} --tokenize`",
    )


def _same_tools(made: dict[str, Any], tools: list, tools_file: str | None, name: str) -> None:
    """Refuse `--tools` other than those the file's text was rendered with (a file recording
    none was rendered without): its text cannot be rendered again."""
    import json
    import shlex

    from trlprep.trainers.render_words import tools_text

    given = json.loads(json.dumps(tools, default=str))
    if given == (made.get("tools") or []):
        return
    file = shlex.quote(tools_file) if tools_file else "TOOLS.json"
    raise UsageError(
        f"{name}: its text was rendered with {tools_text(made.get('tools'))}; this run's "
        f"--tools{' ' + tools_file if tools_file else ''} gives {tools_text(given)} instead, "
        "and rendered text cannot be rendered again",
        hint="drop --tools to train on the text as it was rendered, or convert the "
        f"conversational data again with `trlprep convert ... --tools {file} --tokenize`",
    )


def rendered_as_recorded(made: dict[str, Any]) -> str:
    """`rendered with template kwargs ... and 2 tools (...)` as a tokenisation record's
    chat template says (empty: rendered with neither)."""
    from trlprep.trainers.render_words import applied

    if not made.get("kwargs") and not made.get("tools"):
        return ""
    said = applied(made.get("kwargs"), made.get("tools"))
    return (
        "rendered by "
        + (made.get("name") or "its chat template")
        + said.removeprefix("chat template applied")
    )


def _separator_problem(
    table: pa.Table,
    dtype: str,
    tokenizer: Any,
    record: dict[str, Any] | None,
    step_separator: str | None,
) -> str | None:
    """Why stepwise ids cannot be used with the run's step separator (None: they can)."""
    if dtype != "stepwise-supervision" or step_separator is None:
        return None
    made = (record or {}).get("step_separator")
    if made is not None:
        if made == step_separator:
            return None
        return (
            f"the file's step separator is {made!r}, this run's step_separator "
            f"{step_separator!r}; to train on the file's ids instead, pass --step-separator "
            f"{made!r}"
        )
    from trlprep.templates.encoder import Encoder

    sep = Encoder(tokenizer).pieces([step_separator])[0] if step_separator else []
    if steps_end_with(table, sep):
        return None
    return f"its steps do not end with this run's step_separator {step_separator!r}"


def _keep_end_pairs(table: pa.Table, truncation: str, max_length: int | None, name: str) -> None:
    """A pair file without a record whose `*_prompt_start` columns say it was cut with
    keep_end, refused for a keep_start run (its sequences have lost their starts)."""
    starts = [c for c in table.column_names if c.endswith("_prompt_start")]
    if not starts or truncation == "keep_end" or max_length is None:
        return
    raise UsageError(
        f"{name}: its column {starts[0]} says its pairs were cut with `--truncation keep_end`; "
        f"this run's truncation_mode is {truncation}, which the cut ids cannot give (the file "
        "records no other options: it holds no metadata)",
        hint="pass --truncation-mode keep_end, or tokenise the data again with this run's "
        "options (write Parquet or Arrow to have them recorded and checked)",
    )


__all__ = ["Choice", "choose"]
