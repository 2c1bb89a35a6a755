"""`trlprep import`: bring a public layout (ShareGPT, Alpaca, HH, OpenAI chat, ranked, or
renamed columns) onto a TRL dataset type, streaming files in record batches.

It is `trlprep convert` without `--to`: the same pipeline, with the layout required.
"""

from __future__ import annotations

import typer

from trlprep.cli import options as opt
from trlprep.cli.app import command
from trlprep.cli.empty import ALLOW_EMPTY
from trlprep.cli.pipeline import Request, run


@command("import")
def import_command(
    ctx: typer.Context,
    path: list[str] = typer.Argument(
        ..., help="Input dataset: file(s), a folder of files, a glob, save_to_disk folder, Hub id."
    ),
    from_: str = typer.Option(
        None,
        "--from",
        metavar="LAYOUT",
        help="Layout: sharegpt | alpaca | hh | openai-chat | ranked | generations | "
        "prm800k | math-shepherd | math-aps-tree | oasst | oasst-ranked | llamafactory-v1 | "
        "oumi | swift | "
        "binarized | prompt-answers | alpacafarm | saferlhf | shp | webgpt | arena | "
        "tldr-preference | tldr | helpsteer3 | mt-bench | instances | xlam | nemotron | "
        "map (detected when omitted, where the columns tell).",
    ),
    output: str = opt.OUTPUT,
    num_shards: int = opt.NUM_SHARDS,
    max_shard_size: str = opt.MAX_SHARD_SIZE,
    explain: bool = opt.EXPLAIN,
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
    keep_empty_turns: bool = opt.KEEP_EMPTY_TURNS,
    overwrite: bool = opt.OVERWRITE,
    output_format: str = opt.OUTPUT_FORMAT,
    input_format: str = opt.INPUT_FORMAT,
    split: str = opt.SPLIT,
    progress: bool = opt.PROGRESS,
    allow_empty: bool = ALLOW_EMPTY,
) -> None:
    """Import a dataset from a public layout into a TRL dataset type."""
    from trlprep.io.shards import inputs

    path = inputs(path)  # several paths: one dataset
    opt.say_split(path, split, input_format)
    output = opt.shard_output(output, num_shards, max_shard_size, split)
    from trlprep.importers import get_importer

    if from_ is not None:
        get_importer(from_)
    imports = opt.import_options(
        map_, role_map, map_role, conversational, prompt_style, pairing, threshold, margin,
        neutral, keep_empty_turns,
    )  # fmt: skip
    run(
        Request(
            path, output, from_=from_, explain=explain, overwrite=overwrite,
            output_format=output_format, input_format=input_format, split=split,
            progress=progress, import_options=imports, on_error=on_error, rejects=rejects,
            layout_required=True, on_bad_lines=on_bad_lines, coerce=coerce, allow_empty=allow_empty,
            given=opt.given_options(ctx),
        )
    )  # fmt: skip
