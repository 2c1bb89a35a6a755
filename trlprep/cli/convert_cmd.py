"""`trlprep convert` and `trlprep graph`: route a dataset to another type and write it."""

from __future__ import annotations

import json
import re

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command, out
from trlprep.cli.empty import ALLOW_EMPTY
from trlprep.cli.pipeline import Request, choice, run
from trlprep.registry import TYPES


@command("convert")
def convert_command(
    ctx: typer.Context,
    path: list[str] = typer.Argument(
        ..., help="Input dataset: file(s), a folder of files, a glob, save_to_disk folder, Hub id."
    ),
    output: str = opt.OUTPUT,
    num_shards: int = opt.NUM_SHARDS,
    max_shard_size: str = opt.MAX_SHARD_SIZE,
    to: str = typer.Option(None, "--to", help="Target type (e.g. unpaired, lm, pc)."),
    from_: str = typer.Option(
        None,
        "--from",
        help="Source type, or a layout to import (sharegpt, alpaca, hh, openai-chat, ranked, "
        "map); detected when omitted (an error if it contradicts the data).",
    ),
    explain: bool = opt.EXPLAIN,
    overwrite: bool = opt.OVERWRITE,
    output_format: str = opt.OUTPUT_FORMAT,
    input_format: str = opt.INPUT_FORMAT,
    split: str = opt.SPLIT,
    separator: str = typer.Option(
        "",
        "--separator",
        metavar="TEXT",
        help="Standard-format joins: string between prompt and completion (and between "
        "stepwise steps) when they become one text (default: none, as TRL's guide). "
        "Backslash escapes \\n, \\t, \\r and \\\\ are read as newline, tab, carriage return and "
        "backslash (--separator '\\n\\n').",
    ),
    step_separator: str = typer.Option(
        None,
        "--step-separator",
        help="Stepwise: string joining the steps (default: --separator), or with --tokenize "
        "ending each step's ids (default: a newline, as TRL's PRM); escapes as --separator.",
    ),
    split_turns: str = typer.Option(
        "last",
        "--split-turns",
        metavar="last|all",
        help="Conversations -> prompt-completion: last (split at the last assistant turn) | "
        "all (one row per assistant turn).",
    ),
    inline_media: str | None = typer.Option(
        None,
        "--inline-media",
        metavar="keep|move",
        help='Images, videos, audios held inline in message parts ({"type": "image", '
        '"image": URL}, OpenAI\'s image_url): keep (as they are) | move (to images / videos '
        '/ audios columns, with bare {"type": "image"} ... parts: TRL\'s vision layout). '
        "Default: move for Parquet, Arrow and save_to_disk outputs and rendered ones (the render "
        "keeps no part; a medium held as data no URL or path names, OpenAI's input_audio, "
        "kept), else keep.",
    ),
    label_merge: str = typer.Option(
        "all",
        "--label-merge",
        help="Stepwise -> unpaired: all | any | last | first-false-truncates.",
    ),
    split_mode: str = typer.Option(
        "word", "--split-mode", help="Implicit prompt extraction (standard): word | char (TRL)."
    ),
    order: str = typer.Option(
        "interleaved", "--order", help="Unpairing: interleaved (per pair) | blocks (TRL)."
    ),
    no_prompt: str = typer.Option(
        "error",
        "--no-prompt",
        help="Prompt extraction, pairs that share no prompt: error | warn (keep) | drop.",
    ),
    guide_only: bool = typer.Option(
        False, "--guide-only", help="Route only through conversions TRL's guide documents."
    ),
    progress: bool = opt.PROGRESS,
    allow_empty: bool = ALLOW_EMPTY,
    chat_template: str = typer.Option(
        None,
        "--chat-template",
        help="Render conversational output: a built-in name (trlprep templates), a .jinja "
        "file, a tokenizer folder or a Hub model id.",
    ),
    tokenizer: str = typer.Option(
        None, "--tokenizer", help="Tokenizer folder or Hub id (special tokens; --tokenize)."
    ),
    tools: str = typer.Option(None, "--tools", help="JSON file of tool schemas for every row."),
    template_kwarg: list[str] = typer.Option(
        None, "--template-kwarg", help="key=value passed to the template (repeatable)."
    ),
    num_proc: int = typer.Option(
        None, "--num-proc", min=1, help="Processes rendering templates (default: all cores)."
    ),
    tokenize: bool = typer.Option(False, "--tokenize", help="Add token-id columns."),
    max_length: int = typer.Option(None, "--max-length", min=1, help="Truncate token ids."),
    truncation: str = typer.Option(
        "keep_start", "--truncation", help="With --max-length: keep_start | keep_end."
    ),
    assistant_masks: bool = typer.Option(
        False,
        "--assistant-masks",
        help="With --tokenize: TRL's assistant_masks column for conversational language "
        "modeling or prompt-completion (over prompt + completion, beside completion_mask; "
        "1 on assistant messages, not those with weight 0).",
    ),
    on_error: str = opt.ON_ERROR,
    on_bad_lines: str = opt.ON_BAD_LINES,
    coerce: bool = opt.COERCE,
    rejects: str = opt.REJECTS,
    map_: str = opt.MAP,
    role_map: str = opt.ROLE_MAP,
    map_role: str = opt.MAP_ROLE,
    conversational: bool = opt.CONVERSATIONAL,
    prompt_style: str = opt.PROMPT_STYLE,
    pairing: str = opt.PAIRING,
    threshold: float = opt.THRESHOLD,
    margin: bool = opt.MARGIN,
    neutral: str = opt.NEUTRAL,
    engine: str = opt.ENGINE,
    ray_address: str = opt.RAY_ADDRESS,
    keep_empty_turns: bool = opt.KEEP_EMPTY_TURNS,
) -> None:
    """Convert a dataset to another type (importing public layouts), streaming files."""
    from trlprep.io.shards import inputs

    path = inputs(path)  # several paths: one dataset
    opt.say_split(path, split, input_format)
    output = opt.shard_output(output, num_shards, max_shard_size, split)
    choice("--label-merge", label_merge, ("all", "any", "last", "first-false-truncates"))
    choice("--split-mode", split_mode, ("word", "char"))
    choice("--order", order, ("interleaved", "blocks"))
    choice("--no-prompt", no_prompt, ("error", "warn", "drop"))
    choice("--split-turns", split_turns, ("last", "all"))
    if inline_media is not None:
        choice("--inline-media", inline_media, ("keep", "move"))
    from trlprep.conversion.mediastage import inline_mode
    from trlprep.converters.base import ConvertOptions  # imports the data libraries

    kind = _output_kind(output, output_format)
    rendered = chat_template is not None or tokenize
    inline_media, moved_by_default = inline_mode(inline_media, kind, rendered)

    convert_options = ConvertOptions(
        separator=unescape(separator),
        step_separator=None if step_separator is None else unescape(step_separator),
        split_turns=split_turns,
        inline_media=inline_media,
        output_kind=kind,
        moved_by_default=moved_by_default,
        label_merge=label_merge,
        split_mode=split_mode,
        order=order,
        no_prompt=no_prompt,
        allow_empty=allow_empty,
    )
    from trlprep.cli.ray_cmd import check_engine

    if check_engine(engine) and not explain:
        from trlprep.cli.ray_cmd import convert_ray

        return convert_ray(
            path, output, address=ray_address, output_format=output_format,
            input_format=input_format, split=split, overwrite=overwrite, to=to, from_=from_,
            chat_template=chat_template, tokenizer=tokenizer, tokenize=tokenize, tools=tools,
            template_kwargs=template_kwarg, max_length=max_length, truncation=truncation,
            guide_only=guide_only, on_error=on_error, coerce=coerce, rejects=rejects,
            on_bad_lines=on_bad_lines, assistant_masks=assistant_masks,
            import_options=opt.import_options(
                map_, role_map, map_role, conversational, prompt_style, pairing, threshold,
                margin, neutral, keep_empty_turns,
            ),
            given=opt.given_options(ctx),
            **vars(convert_options),
        )  # fmt: skip
    imports = opt.import_options(
        map_, role_map, map_role, conversational, prompt_style, pairing, threshold, margin,
        neutral, keep_empty_turns,
    )  # fmt: skip
    run(
        Request(
            path, output, to=to, from_=from_, explain=explain, overwrite=overwrite,
            output_format=output_format, input_format=input_format, split=split,
            convert_options=convert_options, guide_only=guide_only, progress=progress,
            chat_template=chat_template, tokenizer=tokenizer, tools=tools,
            template_kwargs=template_kwarg, num_proc=num_proc, tokenize=tokenize,
            max_length=max_length, truncation=truncation, import_options=imports,
            on_error=on_error, rejects=rejects, on_bad_lines=on_bad_lines, coerce=coerce,
            allow_empty=allow_empty, assistant_masks=assistant_masks,
            given=opt.given_options(ctx),
        )
    )  # fmt: skip


def _output_kind(output: object, output_format: str | None) -> str:
    """The format `output` is written in ("" without an output, or where its name says
    none: the writer says so later)."""
    from trlprep.errors import UsageError
    from trlprep.io.outputcheck import resolve_output_format

    if output is None:
        return ""
    try:
        return resolve_output_format(output, output_format)
    except UsageError:
        return ""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    """`text` with the backslash escapes \\n, \\t, \\r and \\\\ read as the characters they
    name (a shell passes '\\n' as two characters); any other backslash stays as it is."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


@command("graph")
def graph_command(
    fmt: str = typer.Option("table", "--format", help="table | mermaid | json"),
    guide_only: bool = typer.Option(
        False, "--guide-only", help="Only the conversions TRL's guide documents."
    ),
) -> None:
    """Print the From x To conversion matrix with the route for every reachable cell."""
    from trlprep.conversion.graph import matrix, mermaid

    if fmt == "mermaid":
        out.print(mermaid(guide_only=guide_only), markup=False)
        return
    m = matrix(guide_only=guide_only)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {s: {d: (r.names() if r else None) for d, r in row.items()} for s, row in m.items()}
            )
        )
        return
    if fmt != "table":
        from trlprep.errors import unknown_choice

        raise unknown_choice("--format", fmt, ("table", "mermaid", "json"))
    short = {name: t.aliases[0] for name, t in TYPES.items()}
    from rich.table import Table

    t = Table(
        title="From \\ To  (- same type, N/A unreachable, conv. = conversational data only)",
        show_lines=True,
    )
    t.add_column("from \\ to")
    for d in TYPES:
        t.add_column(short[d])
    for s, row in m.items():
        cells = []
        for d in TYPES:
            r = None if d == s else row[d]
            if d == s:
                cells.append("-")
            elif r is None:
                cells.append("N/A")
            else:
                via = "+".join(short[n] for n in r.names()[1:-1])
                conv = any(len(e.formats) == 1 for e in r.steps)  # conversational data only
                cells.append(
                    ("lossy" if r.lossy else "ok")
                    + (f" via {via}" if via else "")
                    + (" (conv.)" if conv else "")
                )
        t.add_row(f"{s} ({short[s]})", *cells)
    out.print_table(t)
