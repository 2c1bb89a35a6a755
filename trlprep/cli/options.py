"""Options shared by the commands (declared once), and what they say about them."""

from __future__ import annotations

import typer

OUTPUT = typer.Option(None, "-o", "--output", help="Output file or folder.")
EXPLAIN = typer.Option(
    False, "--explain", "--dry-run", help="Print what would happen; write nothing."
)
OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")
OUTPUT_FORMAT = typer.Option(
    None, "--output-format", help="parquet | jsonl | arrow | disk (default: from suffix)."
)
INPUT_FORMAT = typer.Option(
    None,
    "--input-format",
    help="Input format (default: from the name): jsonl | json | parquet | csv | arrow | text "
    "(a row per line; .txt) | text-paragraph | text-document | disk | hub.",
)
SPLIT = typer.Option(
    None,
    "--split",
    help="Split to read: of a DatasetDict folder, train/test files or a Hub id (default: the "
    "only one, else train).",
)
PROGRESS = typer.Option(
    None, "--progress/--no-progress", help="Progress bar (default: on in a terminal)."
)
ENGINE = typer.Option(
    "local",
    "--engine",
    metavar="local|ray",
    help="local | ray (Ray Data: pip install 'trlprep[ray]').",
)
RAY_ADDRESS = typer.Option(
    None,
    "--ray-address",
    metavar="ADDRESS",
    help="With --engine ray: auto or ray://host:port (default: a local Ray instance).",
)
# importing public layouts
ON_ERROR = typer.Option(
    "stop",
    "--on-error",
    help="Rows that cannot be imported, converted, templated or tokenized: stop (exit 1, "
    "nothing written) | skip (into one rejects file).",
)
ON_BAD_LINES = typer.Option(
    "error",
    "--on-bad-lines",
    help="JSON Lines lines that hold no JSON object: error (exit 1) | skip (reported).",
)
COERCE = typer.Option(
    False,
    "--coerce",
    help='A text column holding some numbers/booleans ("output": 42): read them as text '
    '(said in a note) instead of rejecting those rows; labels of 0/1 or "true"/"false" '
    "(label, labels): read as booleans.",
)
REJECTS = typer.Option(
    None,
    "--rejects",
    help="With --on-error skip: JSON Lines file for rejected rows, written even empty "
    "(default: OUT.rejects.jsonl, written only when a row is rejected).",
)
MAP = typer.Option(None, "--map", help="Rename columns: NEW=OLD,... (prompt=question).")
ROLE_MAP = typer.Option(None, "--role-map", help="Rename roles: FROM=TO,... (human=user).")
MAP_ROLE = typer.Option(None, "--map-role", hidden=True, help="Old name of --role-map.")
CONVERSATIONAL = typer.Option(
    False,
    "--conversational",
    help="Make standard text messages: alpaca, ranked, generations, saferlhf, shp, webgpt, "
    "mt-bench and "
    "--map imports (prompt -> user, answers -> assistant); standard data without --from too.",
)
PROMPT_STYLE = typer.Option(
    "auto",
    "--prompt-style",
    help="alpaca, alpacafarm, standard format: alpaca (Stanford template) | plain | auto (the "
    "template; AlpacaEval's rows, no input column: plain).",
)
PAIRING = typer.Option(
    "best-vs-rest",
    "--pairing",
    metavar="PAIRING",
    help="ranked: best-vs-rest | best-vs-worst | all-pairs.",
)
THRESHOLD = typer.Option(
    None,
    "--threshold",
    help="ranked: unpaired preference, good = score >= threshold; tldr-preference (axis "
    "evals): good = overall >= threshold.",
)
MARGIN = typer.Option(
    False,
    "--margin",
    help="ranked: add the score difference as `margin`; alpacafarm: the preference's strength; "
    "shp: ln(score_ratio); webgpt: |score_0 - score_1|; helpsteer3: |overall_preference|.",
)
NEUTRAL = typer.Option(
    "negative",
    "--neutral",
    metavar="negative|positive|drop",
    help="prm800k: a step rated 0 (neutral) is negative (default, as TRL) | positive | drop.",
)
KEEP_EMPTY_TURNS = typer.Option(
    False,
    "--keep-empty-turns",
    help="hh: keep rows whose final Assistant turn is empty by importing to prompt-only (the "
    "answers dropped): the one target where an empty answer is not an error.",
)


def import_options(
    map_: str | None,
    role_map: str | None,
    map_role: str | None,
    conversational: bool,
    prompt_style: str,
    pairing: str,
    threshold: float | None,
    margin: bool,
    neutral: str = "negative",
    keep_empty_turns: bool = False,
):
    from trlprep.importers import ImportOptions

    if map_role is not None:
        _say_old_role_map(role_map, map_role)
    return ImportOptions.make(
        map=map_,
        role_map=role_map,
        map_role=map_role,
        conversational=conversational,
        prompt_style=prompt_style,
        pairing=pairing,
        threshold=threshold,
        margin=margin,
        neutral=neutral,
        keep_empty_turns=keep_empty_turns,
    )


def _say_old_role_map(role_map: str | None, map_role: str) -> None:
    """Warn that `--map-role` is the old name of `--role-map` (as Python's `map_role=` warns),
    naming the `--role-map` that reads the same roles (both given: merged, --map-role's win)."""
    from trlprep.cli.app import err

    both = f"{role_map},{map_role}" if role_map else map_role
    err.print(
        f"warning: --map-role is the old name of --role-map; pass --role-map {both}",
        markup=False,
    )


def given_import_options(imports) -> list[str]:
    """The `ImportOptions` fields the command line set away from their defaults."""
    from trlprep.importers import ImportOptions

    default = ImportOptions()
    return [
        k for k in ImportOptions.__dataclass_fields__ if getattr(imports, k) != getattr(default, k)
    ]


def given_options(ctx: typer.Context) -> dict[str, object]:
    """The options only some conversion steps read (`conversion.unread.CHECKED`) that the
    command line `ctx` parsed wrote (by option name, with their values): those left at
    their defaults unwritten are never said to be unread."""
    from trlprep.conversion.unread import CHECKED

    given = {}
    for param, value in ctx.params.items():
        name = "template_kwargs" if param == "template_kwarg" else param
        source = ctx.get_parameter_source(param)
        if name in CHECKED and source is not None and source.name != "DEFAULT":
            given[name] = value
    return given


# sharded outputs (-o DIR/)
NUM_SHARDS = typer.Option(
    None, "--num-shards", help="Write -o DIR as N shards of equal rows (SPLIT-0000i-of-N)."
)
MAX_SHARD_SIZE = typer.Option(
    None,
    "--max-shard-size",
    metavar="SIZE",
    help="Write -o DIR as shards of at most this size (500MB, 2GB; default for DIR/: 500MB).",
)


def conversational_layout(path: str, split: str | None, input_format: str | None) -> str | None:
    """`--conversational` without `--from`/`--map`, as `trlprep convert --conversational`
    reads it: the public layout convert reads the data as (alpaca ...), else "map" (standard
    text made messages) when the first rows are standard text, else None (conversational
    data is messages already; a note says so)."""
    from trlprep.io.readers import iter_batches

    batches = iter_batches(path, split=split, input_format=input_format)
    try:
        first = next(iter(batches), None)
    finally:
        getattr(batches, "close", lambda: None)()
    if first is None:
        return None
    import pyarrow as pa

    data = first.data if isinstance(first.data, pa.Table) else pa.Table.from_batches([first.data])
    from trlprep.importers import conversational_layout

    return conversational_layout(data) or conversational_note()


def conversational_note() -> None:
    """Says `--conversational` has nothing to do (the data is messages already)."""
    from trlprep.cli.app import err

    err.print("note: --conversational: the data is conversational already", markup=False)


def say_split(path: str, split: str | None, input_format: str | None) -> None:
    """Say on stderr which split is read when the input holds several and none is named,
    and what a folder input leaves out (model folders, files of no data format)."""
    from trlprep.cli.app import err
    from trlprep.io.splitfiles import default_split, left_out_note
    from trlprep.io.splitnames import split_note

    left = left_out_note(path, input_format, split)
    if left is not None:
        err.print(f"note: {left}", markup=False)
    found = default_split(path, split, input_format)
    if found is not None:
        err.print(f"note: {split_note(path, *found)}", markup=False)


def shard_output(
    output: str | None, num_shards: int | None, max_shard_size: str | None, split: str | None
) -> str | None:
    """The output path, carrying how to shard it when asked (or the split to name shards)."""
    from trlprep.io.shardout import ShardedOutput, sharded

    if output is None:
        return None
    if num_shards is None and max_shard_size is None and not (split and sharded(output)):
        return output
    return ShardedOutput(output, num_shards=num_shards, max_shard_size=max_shard_size, split=split)


def missing_output(path: object, hint: str):
    """The error of a run given no `-o`: where the last of several paths named is a data
    file that does not exist, it was meant as the output (`convert in.jsonl out.jsonl`)."""
    from pathlib import Path

    from trlprep.errors import UsageError
    from trlprep.io.sources import split_suffix

    paths = getattr(path, "paths", ())
    last = paths[-1] if len(paths) > 1 else ""
    if last and split_suffix(last)[0] and not Path(last).exists() and "*" not in last:
        return UsageError(
            f"missing output (-o): {last}, the last path given, is read as another input, "
            "and there is no such file",
            hint=f"to write the output there, pass -o {last}",
        )
    return UsageError("missing output", hint=hint)
