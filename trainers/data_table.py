"""A dataset as a table of the type an algorithm trains on, read as `trlprep convert` reads
it: a public layout imported (`--from`, `--map`, or the layout its columns show), the type
detected, converted through the graph, conversational rows rendered with the chat template
(`trlprep.api.convert`). Rows the import, `trlprep validate`'s row rules or the conversion
refuse stop it or, with `on_error="skip"`, are left out and listed by input row and file line
(`data_rejects`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
from trlprep.trainers.data_carried import (
    INPUT_ROW,
    MESSAGES_COLUMN,
    kept_turns,
    numbered,
    prompt_ids_as_queries,
    prompt_messages,
    rendered_by_template,
    target_type,
    with_record_of,
)
from trlprep.trainers.data_rejects import (
    as_input_rows,
    check_keep_empty,
    located,
    reason_lines,
    refuse_invalid,
    sibling_layout,
    train_hint,
    train_words,
    trained,
)
from trlprep.trainers.data_unread import (
    say_unread_layout,
    say_unread_template_kwargs,
    say_unread_tools,
)

from trlprep.errors import DataError, UsageError, warn_user
from trlprep.registry import Format
from trlprep.wording import noun, plural


class TrainingTable(NamedTuple):
    """The standard-text table of an accepted type, and how it was made."""

    table: pa.Table
    source: str  # the detected type
    route: list[str]  # led by the public layout the data was read as, if any
    templated: bool  # a chat template was applied
    rows_in: int  # the input's rows (before any import or conversion)
    # each row's input row and 1-based file line (None: unknown, e.g. rows a conversion made)
    input_rows: np.ndarray | None = None
    input_lines: np.ndarray | None = None


def to_training_table(
    data: Any,
    accepts: Sequence[str],
    tokenizer: Any,
    *,
    chat_template: Any = None,
    template_kwargs: dict[str, Any] | None = None,
    tools: list | None = None,
    algo: str = "",
    keep_prompt_messages: bool = False,
    layout: str | None = None,
    column_map: str | dict[str, str] | None = None,
    import_options: dict[str, Any] | None = None,
    on_error: str = "stop",
    split: str | None = None,
    template_may_go_unused: bool = False,
    keep_turns: bool | None = False,
) -> TrainingTable:
    """Detect `data`, convert it to the first of `accepts` unless it already is one of them,
    and render conversational rows with the chat template (the tokenizer's by default), given
    `template_kwargs` and `tools` (schemas for rows without their own) as `trlprep convert
    --template-kwarg / --tools` gives them.

    With
    `keep_prompt_messages`, conversational prompts are also kept, unrendered, in the column
    `MESSAGES_COLUMN`. `layout` (a public layout) and `column_map` (`prompt=question`) import
    the data first, as `trlprep convert --from/--map` does. Rows the import or the
    conversion refuses stop it (a DataError naming the file line) or, with `on_error="skip"`,
    are left out with a `RejectedRowsWarning` holding them (their input rows and lines).
    A `chat_template` given for standard-text data is refused (a UsageError), as `trlprep
    convert` refuses it, unless `template_may_go_unused` (eval data beside training data).
    `keep_turns`: conversations rendered to language-modeling or prompt-completion text are
    also kept, hidden, for their assistant masks (`assistant_tokens.carry_turns`); None:
    only where their messages carry weights.
    """
    from trlprep.trainers.data_rejects import nothing_imported

    from trlprep.api import convert
    from trlprep.conversion.convert import unknown_advice
    from trlprep.conversion.graph import route
    from trlprep.conversion.rowsleft import why_no_rows_left
    from trlprep.detection import answerfiles as answers
    from trlprep.detection.answerfiles import answer_file_note
    from trlprep.detection.detect import ROW_LEVEL, detect_table
    from trlprep.detection.layouthint import HH_TEXT, hh_as_text
    from trlprep.importers import (
        ImportOptions,
        conversational_layout,
        import_table,
        is_layout,
        layout_names,
        layout_read_as,
        parse_column_map,
    )
    from trlprep.importers.run import RejectedRowsWarning, rejected_warning
    from trlprep.io.adapters import as_input
    from trlprep.io.jsontext import tools_from
    from trlprep.io.sources import Source
    from trlprep.templates.sources import MissingTokenError, NoTemplateError

    with tools_from(parse_column_map(column_map)):  # `tools=NAME`: each row's own schemas
        inp = as_input(data, split=split)
    table = raw = inp.table
    rows, lines = np.arange(table.num_rows), inp.source.lines  # each row's input row and line
    if table.num_rows == 0:  # as in every command (nothing to train on: no --allow-empty)
        where = f"{data}: " if isinstance(data, (str, os.PathLike)) else ""
        raise DataError(f"{where}the dataset has no rows", hint="check the file (and --split)")
    if keep_prompt_messages:
        table = prompt_ids_as_queries(table)
    if layout is not None and not is_layout(layout):
        raise UsageError(
            f"--data-from takes a public layout here, not {layout!r}",
            hint="train reads the dataset type from the columns; layouts: "
            + ", ".join(layout_names()),
        )
    sniffed = layout is None and not column_map  # a layout read as convert reads it, unnamed
    if layout is None and column_map:
        layout = "map"
    elif layout is None and (import_options or {}).get("conversational"):
        layout = conversational_layout(table)  # as `trlprep convert --conversational` reads it
    elif layout is None:  # as `trlprep convert` reads it (ShareGPT, Alpaca, ...)
        layout = layout_read_as(table)
    if layout is None and (import_options or {}).get("role_map"):
        layout = "map"  # TRL messages whose roles --role-map renames, as convert reads them
    check_keep_empty(layout, accepts[0], import_options)
    coerce = bool((import_options or {}).get("coerce"))
    if layout is None and (coerce or on_error == "skip"):  # an import reads its own
        from trlprep.trainers.coerced import coerced

        table, rows, lines = coerced(
            table, rows, lines, path=inp.source.path, on_error=on_error, coerce=coerce
        )
    if layout is not None:
        opts = ImportOptions.make(map=column_map, **(import_options or {}))
        try:
            result = import_table(
                table, layout, opts, lines=lines, on_error=on_error, path=inp.source.path
            )
        except DataError as e:  # its hint in train's words; its counts train's data line
            message = e.message.removesuffix(f"; {e.counts.said}") if e.counts else e.message
            raise trained(
                DataError(
                    train_words(message), hint=train_hint(e.hint), path=e.path, line=e.line,
                    row=e.row, column=e.column,
                ),
                e.counts,
                raw.num_rows,
            ) from e  # fmt: skip
        if not result.table.num_rows and result.failed.num_rows:  # on_error="skip"
            raise nothing_imported(result, layout, table.num_rows, inp.source.path)
        table, rows, lines = result.table, result.rows, result.lines
        if result.num_rejected:
            warnings.warn(rejected_warning(result, layout), stacklevel=2)
    det = detect_table(table)
    if sniffed and layout is None and (hh := hh_as_text(det, train=True)) is not None:
        warn_user(hh)  # trained as they are, the turns' markers are text to learn
    if det.type is None and answer_file_note(det.notes):  # no flag of train makes a prompt
        raise DataError("cannot tell the dataset type: " + answers.WHAT, hint=answers.JOIN)
    if det.type is None:
        reason, advice = unknown_advice(det)
        prompts_only = accepts[0] == "prompt-only"
        raise DataError(
            "cannot tell the dataset type: " + train_words(reason, prompts_only=prompts_only),
            hint=train_words(advice, prompts_only=prompts_only)
            if advice
            else f"{algo} trains on {' or '.join(accepts)} data; run `trlprep detect` on it",
        )
    say_unread_layout(import_options, layout, det.type.name)
    # rows with a null required value are refused one by one by the conversion below
    problems = [p for p in det.problems if p.code != "ambiguous-prompt" and p.code not in ROW_LEVEL]
    if problems:
        p = problems[0]
        at = [int(r) for r in p.rows or ()]
        shown = at if lines is None else [int(lines[r]) for r in at]  # the file's lines
        word = "row" if lines is None else "line"
        hint = p.hint or "run `trlprep validate` on it for every problem"
        if layout is None and on_error != "skip":
            from trlprep.trainers.coerced import skip_would_leave_out

            if skip_would_leave_out(table):
                hint += "; or pass --on-error skip to leave those rows out (listed)"
        raise DataError(
            f"the data is not uniform: {p.message}"
            + (f" (e.g. {noun(len(shown), word)} {', '.join(map(str, shown))})" * bool(shown)),
            hint=hint,
            path=inp.source.path,
        )
    if layout is None:  # an import checks its rows against the type it lands on itself
        table, rows, lines = refuse_invalid(
            table, det.type, det.format, raw, rows, lines, on_error=on_error,
            path=inp.source.path,
        )  # fmt: skip
    read_as = [f"{layout} layout"] if layout else []
    if (
        chat_template is not None
        and det.format is Format.STANDARD
        and not template_may_go_unused
        and not rendered_by_template(raw)  # its template is checked against the flag's
    ):
        from trlprep.conversion.convert import refuse_prerendered

        refuse_prerendered(det, table)
        raise UsageError(
            f"--chat-template applies to conversational data; this data is standard text "
            f"({det.type.name}), trained on as it is, so no template would be applied",
            hint="drop --chat-template"
            + (
                ""
                if det.type.name == "language-modeling"  # a text column has no turns
                else ", or pass --conversational to make the rows messages rendered with it"
            ),
        )
    if det.format is not Format.CONVERSATIONAL and not template_may_go_unused:
        if not rendered_by_template(raw):  # else checked against the file's own (given_ids)
            name = os.fspath(data) if isinstance(data, (str, os.PathLike)) else None
            words = "token ids" if det.format is Format.TOKENIZED else "standard text"
            say_unread_template_kwargs(template_kwargs, det.type.name, words, name)
            say_unread_tools(tools, det.type.name, words, name)
    if det.format is Format.TOKENIZED:
        if (
            chat_template is not None
            and not template_may_go_unused
            and not rendered_by_template(raw)
        ):
            raise UsageError(
                f"--chat-template applies to conversational data; this data is token ids "
                f"({det.type.name}), trained on as they are, so no template would be applied",
                hint="drop --chat-template, or train on the conversational data the ids were "
                "made from (its messages are rendered with the template and tokenised)",
            )
        if det.type.name not in accepts:
            raise UsageError(
                f"{algo} cannot train on tokenized {det.type.name} data",
                hint=f"{algo} trains on {' or '.join(accepts)} data: give it the text, not "
                "token ids",
            )
        return TrainingTable(
            table, det.type.name, [*read_as, det.type.name], False, raw.num_rows, rows, lines
        )
    dst = target_type(det.type, accepts)
    templated = det.format is Format.CONVERSATIONAL
    row_problems = any(p.code in ROW_LEVEL for p in det.problems)
    if dst is det.type and not templated and not row_problems:
        return TrainingTable(
            table, det.type.name, [*read_as, det.type.name], False, raw.num_rows, rows, lines
        )
    try:
        way = route(det.type, dst, fmt=det.format)  # as convert routes it
    except UsageError as e:
        label = next(  # detect's advice on a label column that did not read as one
            (n for n in det.notes if "`--map label=" in n or "--coerce reads them" in n), None
        ) or next(  # or on two answer columns named for the chosen and the rejected one
            (train_words(n) for n in det.notes if "chosen=" in n and "rejected=" in n), None
        )
        if label is None and det.type.name == "prompt-only":  # an answer column beside it
            from trlprep.detection.besidehints import route_advice
            from trlprep.importers import layout_in_hint

            advice = UsageError("", hint=route_advice(det.type.name, det))
            label = layout_in_hint(advice, layout if sniffed else None).hint
            label = train_words(label) if label else None
        hint = e.hint or "convert it with `trlprep convert` first"
        fits = _algorithms_hint(det.type.name, fmt=det.format)
        hint += f"; {fits}" if fits else ""
        sibling = sibling_layout(layout, dst, import_options)
        if sibling is not None:
            hint += f"; {sibling}"
        raise UsageError(
            f"{algo} trains on {' or '.join(accepts)} data; this data is {det.type.name} "
            f"and cannot be converted: {e.message}",
            hint=hint if label is None else f"{label}; {hint}",
        ) from e
    # the prompt messages: a `prompt` column, or `messages` that detect reads as the prompt
    reads_prompt = det.reading is not None and det.reading.kind == "prompt"
    prompt_col = "messages" if reads_prompt else "prompt"
    if keep_prompt_messages and templated and prompt_col in table.column_names:
        table = table.append_column(MESSAGES_COLUMN, table.column(prompt_col))
    if templated and keep_turns is not False:
        table = kept_turns(table, dst.name, keep_turns)
    template = chat_template if chat_template is not None else tokenizer
    source = table  # what the conversion reads
    try:
        with warnings.catch_warnings(record=True) as caught, located(inp, rows, lines):
            warnings.simplefilter("always", RejectedRowsWarning)
            table = convert(
                Source(numbered(table), path=inp.source.path, lines=lines),  # names lines
                to=dst.name if dst is not det.type else None,
                chat_template=template if templated else None,
                tokenizer=tokenizer if templated else None,
                template_kwargs=template_kwargs if templated else None,
                tools=tools if templated else None,
                on_error=on_error,
                allow_empty=True,  # no row left: said below, in train's words
            )
    except MissingTokenError as e:  # convert's hint names flags train does not take
        name = getattr(tokenizer, "name_or_path", "") or "the model"
        names = " and ".join(e.missing)
        raise UsageError(
            f"{e.message}: the tokenizer of {name} has no {names}",
            hint=f"pass --template-kwarg {e.missing[0]}=TOKEN (the model's {e.missing[0]}), "
            f'give the tokenizer its {names} ("{e.missing[0]}" in {name}'
            "/tokenizer_config.json), or pass a --chat-template written for this model",
        ) from e
    except NoTemplateError as e:
        if chat_template is not None:
            raise
        name = getattr(tokenizer, "name_or_path", "") or "the model"
        raise NoTemplateError(
            f"the data is conversational and the tokenizer of {name} has no chat template "
            "to render it",
            hint="pass --chat-template with a built-in name (`trlprep templates` lists them), "
            "a .jinja file or a tokenizer folder",
        ) from e
    converted = len(rows)  # the imported rows, less those the conversion refuses
    refused: list[np.ndarray] = []  # their positions in `source`
    for w in caught:  # the conversion's rejects, named by their input rows and lines
        if isinstance(w.message, RejectedRowsWarning) and w.message.rejects is not None:
            refused.append(w.message.rejects.column("row").to_numpy())
            rejects = as_input_rows(w.message.rejects, raw, rows, lines)
            converted -= rejects.num_rows
            n = rejects.num_rows
            message = (
                f"{plural(n, 'row')} could not be converted and {'was' if n == 1 else 'were'} "
                "left out: " + "; ".join(reason_lines(rejects))
            )  # named by the input's lines, not the imported table's rows
            warnings.warn(RejectedRowsWarning(message, rejects), stacklevel=2)
        elif not str(w.message).startswith(HH_TEXT):  # (said above, in train's words)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if table.num_rows == 0 and converted > 0:  # a filtering step dropped every row
        why, hint = why_no_rows_left(way.steps)
        raise DataError(
            f"no rows left to train on: the conversion to {dst.name} dropped "
            + (f"all {converted:,} rows" if converted > 1 else "the one row")
            + f" ({why})",
            hint=f"{algo} trains on {' or '.join(accepts)} data; with `trlprep convert`: {hint}"
            + (f"; {fits}" if (fits := _algorithms_hint(det.type.name, converted=False)) else ""),
        )
    if keep_prompt_messages and templated and MESSAGES_COLUMN not in table.column_names:
        kept = np.setdiff1d(np.arange(source.num_rows), np.concatenate([[], *refused]))
        messages, why = prompt_messages(source.take(kept), dst, table.num_rows)
        if messages is not None:
            table = table.append_column(MESSAGES_COLUMN, messages)
        else:  # the run's log says so (prepare logs this module's warnings)
            warnings.warn(
                "reward functions get no prompt_messages (the rendered prompt text only): " + why,
                UserWarning,
                stacklevel=2,
            )
    names = way.names()
    at = table.column(INPUT_ROW).to_numpy() if INPUT_ROW in table.column_names else None
    table = with_record_of(raw, table.drop_columns([INPUT_ROW] * (at is not None)))
    if at is None or any(step.rows == "pairs" for step in way.steps):  # a row of two rows
        return TrainingTable(table, det.type.name, [*read_as, *names], templated, raw.num_rows)
    at_lines = None if lines is None else np.asarray(lines)[at]
    return TrainingTable(
        table, det.type.name, [*read_as, *names], templated, raw.num_rows, rows[at], at_lines
    )


def _algorithms_hint(data_type: str, converted: bool = True, fmt: Format | None = None) -> str:
    """Which --algo trains on `data_type` data (of format `fmt`, when given): as it is, and
    (`converted`) converted on the way in; empty when none does."""
    from trlprep.trainers.algorithms import algorithms_for

    as_is, reached = algorithms_for(data_type, fmt=fmt)
    said = [f"{', '.join(as_is)} as it is"] if as_is else []
    if converted and reached:
        said.append(
            f"{', '.join(reached)} converted on the way in "
            "(`trlprep convert DATA --to TYPE` writes what they train on)"
        )
    return f"{data_type} data trains with --algo " + " or ".join(said) if said else ""
