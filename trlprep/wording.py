"""Counts and articles in words: `1 row`, `2 rows`, `1,000 steps`, `an array` (every message
uses these); CLI flags said as the Python API's keyword arguments (`python_words`)."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable

IRREGULAR = {"was": "were", "is": "are", "has": "have", "this": "these", "entry": "entries"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and `word`, the plural when `n` is not 1 (`many`, or `word` + "s"), with commas."""
    return f"{n:,} {word if n == 1 else (many or IRREGULAR.get(word) or word + 's')}"


def noun(n: int, word: str, many: str | None = None) -> str:
    """`word` or its plural for a count of `n`, without the number."""
    return plural(n, word, many).split(" ", 1)[1]


_AS_CONSONANT = ("uni", "use", "usa", "usu", "one", "once", "eu", "utf", "url", "uuid")


def article(word: str) -> str:
    """`word` with its indefinite article, as said: `an IterableDataset`, `an array`,
    `a list`, `a unicode string`, `a UsageError` (by its first letters, not its sound in
    every case: meant for type and kind names in messages)."""
    bare = word.lstrip("'\"`").lower()
    an = bare[:1] in ("a", "e", "i", "o", "u") and not bare.startswith(_AS_CONSONANT)
    return f"{'an' if an else 'a'} {word}"


# ---------------------------------------------------------------- CLI flags in Python's words

# What a flag's value looks like in a message, and how the keyword argument says it:
# BOOL takes none (`--coerce` -> `coerce=True`); CHOICE one of the listed words; NAME a type or
# layout name; PAIRS `a=b,c=d` (a dict); NUMBER digits; SOURCE a path, Hub id or file name.
BOOL, CHOICE, NAME, PAIRS, NUMBER, SOURCE = "bool", "choice", "name", "pairs", "number", "source"

# CLI flag -> (keyword argument of the Python API, kind, words a CHOICE takes). A flag the API
# has no keyword for (`--rejects`, `--engine`, `-o`) is left as it is;
# `tests/test_api_hints.py` checks every keyword against the API functions' signatures.
FLAG_KEYWORDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "map": ("map", PAIRS, ()),
    "role-map": ("role_map", PAIRS, ()),
    "map-role": ("role_map", PAIRS, ()),
    "template-kwarg": ("template_kwargs", PAIRS, ()),
    "from": ("from_", NAME, ()),
    "to": ("to", NAME, ()),
    "type": ("type", NAME, ()),
    "data-format": ("format", CHOICE, ("standard", "conversational")),
    "conversational": ("conversational", BOOL, ()),
    "coerce": ("coerce", BOOL, ()),
    "overwrite": ("overwrite", BOOL, ()),
    "allow-empty": ("allow_empty", BOOL, ()),
    "keep-empty-turns": ("keep_empty_turns", BOOL, ()),
    "tokenize": ("tokenize", BOOL, ()),
    "strict": ("strict", BOOL, ()),
    "guide-only": ("guide_only", BOOL, ()),
    "margin": ("margin", BOOL, ()),
    "validate": ("validate", BOOL, ()),
    "on-error": ("on_error", CHOICE, ("stop", "skip")),
    "on-bad-lines": ("on_bad_lines", CHOICE, ("error", "skip")),
    "truncation": ("truncation", CHOICE, ("keep_start", "keep_end")),
    "order": ("order", CHOICE, ("interleaved", "blocks")),
    "split-mode": ("split_mode", CHOICE, ("word", "char")),
    "no-prompt": ("no_prompt", CHOICE, ("error", "warn", "drop")),
    "split-turns": ("split_turns", CHOICE, ("last", "all")),
    "label-merge": ("label_merge", CHOICE, ("all", "any", "last", "first-false-truncates")),
    "neutral": ("neutral", CHOICE, ("negative", "positive", "drop")),
    "pairing": ("pairing", CHOICE, ("best-vs-rest", "best-vs-worst", "all-pairs")),
    "prompt-style": ("prompt_style", CHOICE, ("alpaca", "plain")),
    "input-format": (
        "input_format",
        CHOICE,
        (
            "jsonl",
            "json",
            "parquet",
            "csv",
            "arrow",
            "text",
            "text-paragraph",
            "text-document",
            "disk",
            "hub",
        ),
    ),  # fmt: skip
    "output-format": ("output_format", CHOICE, ("parquet", "jsonl", "arrow", "disk")),
    "max-length": ("max_length", NUMBER, ()),
    "threshold": ("threshold", NUMBER, ()),
    "num-proc": ("num_proc", NUMBER, ()),
    "max-errors": ("max_errors", NUMBER, ()),
    "examples": ("examples", NUMBER, ()),
    "chat-template": ("chat_template", SOURCE, ()),
    "tokenizer": ("tokenizer", SOURCE, ()),
    "split": ("split", SOURCE, ()),
    "separator": ("separator", SOURCE, ()),
    "step-separator": ("step_separator", SOURCE, ()),
}

# the commands whose Python function a message can name instead: (as said, module, name)
COMMAND_FUNCTIONS = {
    "convert": ("trlprep.convert", "trlprep.api", "convert"),
    "validate": ("trlprep.validate", "trlprep.api", "validate"),
    "detect": ("trlprep.detect", "trlprep.api", "detect"),
    "report": ("trlprep.report", "trlprep.datareport.build", "report"),
    "import": ("trlprep.importers.import_dataset", "trlprep.importers.run", "import_dataset"),
    "train": ("trlprep.trainers.train", "trlprep.trainers.loop", "train"),
}
REPORT = "trlprep.datareport.build.report"
TRAIN = "trlprep.trainers.loop.train"
RAY = "trlprep.ray."
# functions whose keyword for a flag is named otherwise than FLAG_KEYWORDS says
RENAMED = {
    REPORT: {"from": "layout"},
    "trlprep.importers.run.import_dataset": {"from": "layout"},
    TRAIN: {"from": "data_from", "map": "data_map", "truncation": "truncation_mode"},
}
# more kinds of value, for train's options: FALSE (`--no-x` -> `x=False`), WORD (a word that
# looks like a value: `--algo prm`, `--loss-type apo_zero`), BOOL_OR (`--resume` or `--resume
# PATH`)
FALSE, WORD, BOOL_OR = "false", "word", "bool-or"

_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")  # FILE, LAYOUT, PATH_OR_ID, N
# a flag and at most one value (a word that is not itself a flag: `-1` is a value)
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)(?: (?!-[a-z-])([^\s`]+))?")
# `trlprep convert ...`, or a bare `convert --tokenize ...` (a command word and its flags)
_COMMAND = re.compile(
    r"\btrlprep (" + "|".join(COMMAND_FUNCTIONS) + r")\b"
    r"|(?<![\w./-])(" + "|".join(COMMAND_FUNCTIONS) + r")(?= --[a-z])"
)
# one argument of a command: DATA, a file's name, `-o OUT`, `...`, or a flag and at most one value
_ARG = re.compile(
    r" (?:(DATA|-o OUT|\.\.\.|[\w/-]+\.[a-z]+)(?![\w/.-])"
    r"|--([a-z][a-z0-9-]*)(?: (?!-[a-z-])([^\s`();]+))?)"
)
_TRAILING = "`),;:"
# `--template-kwarg a=1 --template-kwarg b=2`: one dict, as the keyword takes them (only
# when nothing or a comma is between them: `(--map a=b) --map c=d` keeps its parenthesis)
_REPEATED = re.compile(r"(--(map|role-map|template-kwarg) [^\s`(),;:]+?),? --\2 ")


def python_words(text: str | None, func: Callable | None = None) -> str | None:
    """`text` (an error's message or hint written for the CLI) as the Python API says it:
    each CLI flag that `func` (the public function that raised it) takes as a keyword
    argument said as that keyword (`--on-error skip` -> `on_error='skip'`, `--map a=b` ->
    `map={'a': 'b'}`, a run of flags as keywords joined by commas), one only
    `trlprep.convert` takes as that call, and `trlprep convert DATA ... -o OUT` as
    `OUT = trlprep.convert(DATA, ...)`; flags no API function takes are left as they are,
    and every other word of `text` too. `func` None: every keyword of the table."""
    if not text or "--" not in text and "trlprep " not in text:
        return text
    while _REPEATED.search(text):
        text = _REPEATED.sub(r"\1,", text)
    out, at = [], 0
    for m in _COMMAND.finditer(text):
        if m.start() < at:
            continue
        end, said = _command(text, m, func)
        out += [_sentence(text[at : m.start()], func), said]
        at = end
    return "".join(out) + _sentence(text[at:], func)


def _sentence(text: str, func: Callable | None) -> str:
    """The flags of a sentence (no command in it) said as keywords, run by run."""
    out, at, run = [], 0, []
    for m in _FLAG.finditer(text):
        if run and (m.start() != run[-1].end() + 1 or text[run[-1].end()] != " "):
            out.append(_run(run, func))
            run = []
        if not run:
            out.append(text[at : m.start()])
        run.append(m)
        at = m.end()
        if _rest(m, func):  # its value is the sentence's word, or punctuation ends it
            out.append(_run(run, func))
            run = []
    if run:
        out.append(_run(run, func))
    return "".join(out) + text[at:]


def _rest(m: re.Match, func: Callable | None) -> str:
    """What follows flag `m`'s keyword when said (a word or punctuation), " " for a flag
    no API function takes (it ends a run, as it is)."""
    said = _flag(m.group(1), m.group(2), func)
    said = said or _flag(m.group(1), m.group(2), _fallback(func)[0])
    return " " if said is None else said[1]


def _run(run: list[re.Match], func: Callable | None) -> str:
    """Flags side by side (`--map a=b --coerce`) as keywords joined by commas: `func`'s, or
    one call of the convert of `func`'s kind (`trlprep.convert(..., ...)`,
    `trlprep.ray.convert(..., ...)`) when `func` lacks one of them."""
    said = [_flag(m.group(1), m.group(2), func) for m in run]
    if all(s is not None for s in said):
        return _joined([s[0] for s in said]) + said[-1][1]
    convert, name = _fallback(func)
    said = [_flag(m.group(1), m.group(2), convert) for m in run]
    if func is None or func is convert or any(s is None for s in said):
        return " ".join(_bare(m, func) for m in run)
    return f"{name}(..., {_joined([s[0] for s in said])}){said[-1][1]}"


def _joined(said: list[str]) -> str:
    """Keywords joined by commas, `import_options={...}` ones merged into one dict."""
    nested = [s[len(_NESTED) + 2 : -1] for s in said if s.startswith(_NESTED + "={")]
    if len(nested) < 2:
        return ", ".join(said)
    first = next(i for i, s in enumerate(said) if s.startswith(_NESTED + "={"))
    rest = [s for s in said if not s.startswith(_NESTED + "={")]
    return ", ".join([*rest[:first], _NESTED + "={" + ", ".join(nested) + "}", *rest[first:]])


def _bare(m: re.Match, func: Callable | None) -> str:
    """A flag alone: the keyword `func` takes, else `trlprep.convert(..., kw)` (or the
    convert of `func`'s kind)."""
    name, value = m.group(1), m.group(2)
    said = _flag(name, value, func)
    if said is not None:
        return said[0] + said[1]
    convert, call = _fallback(func)
    said = _flag(name, value, convert) if func is not None and func is not convert else None
    if said is None:
        return m.group(0)
    return f"{call}(..., {said[0]}){said[1]}"


def _fallback(func: Callable | None) -> tuple[Callable, str]:
    """The function a flag `func` does not take is said as, and its name: the Ray
    functions' `trlprep.ray.convert`, the others' `trlprep.convert`."""
    if func is not None and _qualname(func).startswith(RAY):
        from trlprep.ray.conversion import convert

        return convert, "trlprep.ray.convert"
    return _convert(), "trlprep.convert"


def _command(text: str, m: re.Match, speaker: Callable | None = None) -> tuple[int, str]:
    """Where the command `m` starts ends in `text` (at the first word that is neither DATA,
    `-o OUT`, a flag nor its value), and it said as Python: `trlprep convert DATA --to pc
    -o OUT` -> `OUT = trlprep.convert(DATA, to='pc')` (`trlprep.ray.convert` where a Ray
    function, `speaker`, says it); as it is when a flag of it has no keyword in its
    function."""
    command = m.group(1) or m.group(2)
    func, call = _function(command), COMMAND_FUNCTIONS[command][0]
    if command == "convert":
        func, call = _fallback(speaker)
    data: str | None = None
    out = known = False
    said: list[str] = []
    at = m.end()
    while a := _ARG.match(text, at):
        at = a.end()
        if a.group(1):
            if a.group(1) == "-o OUT":
                out = True
            elif a.group(1) != "...":  # DATA, or a file's name (`x.jsonl`)
                data = data or (a.group(1) if a.group(1) == "DATA" else repr(a.group(1)))
            continue
        name, value = a.group(2), a.group(3)
        bare = _bare_value(value)
        flag = _flag(name, bare, func)
        if flag is None:
            known = True  # only the CLI can do it: the command stays as it is
        elif flag[1]:  # the word after the flag is the sentence's
            at = a.start(3) - 1
            said.append(_in_call(flag[0]))
            break
        else:
            said.append(_in_call(flag[0]))
        if bare != value:  # punctuation ends the command
            at -= len(value) - len(bare)
            break
    if known:
        return at, text[m.start() : at]
    if not data and not said:
        return at, call
    call = f"{call}({', '.join([data or '...', *said])})"
    return at, f"OUT = {call}" if out else call


def _in_call(said: str) -> str:
    """A keyword said alone (`step_separator`) as an argument of a call: `step_separator=...`."""
    return said if "=" in said else f"{said}=..."


def _bare_value(value: str | None) -> str | None:
    """`value` less the sentence's punctuation after it (`OUT:`, `hh.`, not `...`)."""
    if value is None:
        return None
    bare = value.rstrip(_TRAILING)
    return bare[:-1] if bare.endswith(".") and not bare.endswith("...") else bare


def _convert() -> Callable:
    return _function("convert")


def _train_said(
    config: object = None, log: object = None, *, overwrite: bool = False, **options: object
) -> None:
    """Stands for `trlprep.trainers.train` in a hint's words while torch is not loaded."""


_train_said.__module__, _train_said.__name__ = TRAIN.rsplit(".", 1)


def _function(command: str) -> Callable:
    module, name = COMMAND_FUNCTIONS[command][1:]
    if command == "train" and module not in sys.modules:  # no torch imported to say a hint
        return _train_said
    return getattr(importlib.import_module(module), name)


def _qualname(func: Callable) -> str:
    func = inspect.unwrap(func)
    return f"{func.__module__}.{func.__name__}"


def keyword_of(flag: str, func: Callable | None = None) -> str | None:
    """The keyword argument of `func` (any API function: None) for `--flag`, or None."""
    spec = _spec(flag, func)
    return None if spec is None else spec[0]


def _spec(flag: str, func: Callable | None) -> tuple[str, str, tuple[str, ...]] | None:
    """`--flag` as `func`'s keyword argument: (keyword, kind, choices), or None."""
    if func is not None and _qualname(func) == TRAIN:
        return _train_spec(flag)
    if flag not in FLAG_KEYWORDS:
        return None
    _, kind, choices = FLAG_KEYWORDS[flag]
    if func is None:
        return FLAG_KEYWORDS[flag]
    keyword = RENAMED.get(_qualname(func), {}).get(flag) or FLAG_KEYWORDS[flag][0]
    takes = api_keywords(func)
    if keyword in takes:
        return keyword, kind, choices
    if _NESTED in takes and keyword in _import_fields():  # trlprep.ray.convert's
        return f"{_NESTED}={{{keyword!r}: ", kind, choices
    return None


_NESTED = "import_options"


def _import_fields() -> set[str]:
    from dataclasses import fields

    from trlprep.importers import ImportOptions

    return {f.name for f in fields(ImportOptions)}


def _train_spec(flag: str) -> tuple[str, str, tuple[str, ...]] | None:
    """`--flag` of `trlprep train` as the key of `trlprep.trainers.train`'s config (its
    keyword arguments): a TrainConfig field or an algorithm's option (any word while the
    algorithms are not loaded: a hint's `trlprep train --algo prm --step-separator`)."""
    keyword = RENAMED[TRAIN].get(flag) or flag.replace("-", "_")
    types = _train_types()
    if keyword not in types and keyword.startswith("no_"):
        if types.get(keyword[3:], "bool").startswith("bool"):
            return keyword[3:], FALSE, ()
    if keyword not in types and "trlprep.trainers.algorithms" in sys.modules:
        return None
    said = types.get(keyword, "").replace(" ", "")
    if flag in FLAG_KEYWORDS and FLAG_KEYWORDS[flag][0] == keyword:
        return FLAG_KEYWORDS[flag]
    if keyword in ("data_from", "eval_data_from", "data_map", "eval_data_map"):  # as convert's
        return keyword, NAME if keyword.endswith("from") else PAIRS, ()
    if said in ("bool", "bool|None"):
        return keyword, BOOL, ()
    if said.startswith("bool|"):
        return keyword, BOOL_OR, ()
    if said.split("|")[0] in ("int", "float"):
        return keyword, NUMBER, ()
    return keyword, WORD, ()


def _train_types() -> dict[str, str]:
    """Keys `trlprep.trainers.train` takes -> their declared types: TrainConfig's fields,
    `overwrite`, and, once loaded, every algorithm's options."""
    from dataclasses import fields

    from trlprep.trainers.config import TrainConfig

    types = {f.name: str(f.type) for f in fields(TrainConfig)} | {"overwrite": "bool"}
    algorithms = sys.modules.get("trlprep.trainers.algorithms")
    for algo in getattr(algorithms, "ALGORITHMS", {}).values():
        types |= {f.name: str(f.type) for f in fields(algo.options) if f.name not in types}
    return types


def train_words() -> frozenset[str]:
    """Words that are values of train's options in a hint (`--algo prm`, `--logps-kernel
    torch`): the algorithms, schedulers, kernels, attention kinds, truncations."""
    from trlprep.trainers import config

    return frozenset(
        (*config.ALGORITHM_NAMES, *config.SCHEDULERS, *config.ATTENTION, *config.LOGPS_KERNELS,
         "keep_start", "keep_end", "stop", "skip")
    )  # fmt: skip


def api_keywords(func: Callable) -> frozenset[str]:
    """The keyword arguments `func` takes: its parameters, and the option names its
    `**options` stand for (convert's, the importers', train's config keys)."""
    func = inspect.unwrap(func)
    params = inspect.signature(func).parameters.values()
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if any(p.kind is p.VAR_KEYWORD for p in params):
        names |= _options_of(f"{func.__module__}.{func.__name__}")
    return frozenset(names)


def _options_of(qualname: str) -> set[str]:
    """What the `**options` of the API function `qualname` take (none of another)."""
    from dataclasses import fields

    if qualname == "trlprep.importers.run.import_dataset":
        from trlprep.importers import ImportOptions

        return {f.name for f in fields(ImportOptions)}
    if qualname == "trlprep.ray.conversion.convert":  # `**kwargs`: convert_rows' and options
        from trlprep.converters.base import ConvertOptions
        from trlprep.ray.conversion import convert_rows

        rows = set(inspect.signature(convert_rows).parameters) - {"ds", "options", "notes"}
        return rows | {f.name for f in fields(ConvertOptions)}
    if qualname == TRAIN:  # a config's keys, as keywords: TrainConfig's and the algorithms'
        importlib.import_module("trlprep.trainers.algorithms")
        return set(_train_types())
    if qualname not in ("trlprep.api.convert", "trlprep.api.validate", REPORT):
        return set()
    from trlprep.api import IMPORT_OPTIONS

    if qualname != "trlprep.api.convert":
        return set(IMPORT_OPTIONS)
    from trlprep.converters.base import ConvertOptions

    return set(IMPORT_OPTIONS) | {f.name for f in fields(ConvertOptions)}


def _flag(name: str, value: str | None, func: Callable | None) -> tuple[str, str] | None:
    """`--name value` as `func`'s keyword argument and what follows it (the value's trailing
    punctuation, or the sentence's word when `value` is none of the flag's values); None
    when `func` takes no keyword for it."""
    spec = _spec(name, func)
    if spec is None:
        return None
    keyword, kind, choices = spec
    if keyword.startswith(_NESTED):  # `import_options={'map': ` ... `}`
        said = _flag_said(keyword[len(_NESTED) + 3 : -3], kind, choices, value)
        key, _, rest = said[0].partition("=")
        return f"{keyword}{rest or ('True' if kind == BOOL else '...')}}}", said[1]
    return _flag_said(keyword, kind, choices, value)


def _flag_said(
    keyword: str, kind: str, choices: tuple[str, ...], value: str | None
) -> tuple[str, str]:
    """`keyword` with `value` said as its kind says, and what follows it (see `_flag`)."""
    alone = {BOOL: f"{keyword}=True", BOOL_OR: f"{keyword}=True", FALSE: f"{keyword}=False"}
    flag_alone = alone.get(kind, keyword)
    if not value:
        return flag_alone, ""
    bare = value.rstrip(_TRAILING)
    if bare.endswith(".") and not bare.endswith("..."):
        bare = bare[:-1]
    said = None if kind in (BOOL, FALSE) else _value(kind, bare, choices)
    if said is None:  # the word after the flag is the sentence's, not the flag's value
        return flag_alone, f" {value}"
    return f"{keyword}={said}", value[len(bare) :]


def _value(kind: str, value: str, choices: tuple[str, ...]) -> str | None:
    """How the keyword argument says `value`, None when it is no value of that kind."""
    if _PLACEHOLDER.fullmatch(value) or value == "...":
        return value
    if kind == CHOICE:
        parts = value.split("|")
        return "|".join(map(repr, parts)) if all(p in choices for p in parts) else None
    if kind == NUMBER:
        return value if re.fullmatch(r"-?\d+(\.\d+)?", value) else None
    if kind == NAME:
        return repr(value) if _is_name(value) else None
    if kind == PAIRS:
        return _pairs(value)
    if kind == WORD and (
        re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", value) or value.startswith(("'", '"'))
    ):
        return value
    if kind == WORD and re.fullmatch(r"[a-z0-9]+([_-][a-z0-9]+)*", value):
        return repr(value) if "_" in value or value in train_words() else None
    if "/" in value or "." in value or value.startswith(("'", '"')):
        return value if value.startswith(("'", '"')) else repr(value)
    return None


def _pairs(value: str) -> str | None:
    """`a=b,c=d` as `{'a': 'b', 'c': 'd'}` (None: no `key=value` in it)."""
    if "=" not in value:
        return None
    items = []
    for item in value.split(","):
        key, eq, val = item.partition("=")
        if not eq:
            items.append(item)  # `...`
            continue
        items.append(
            f"{key!r}: {val if _PLACEHOLDER.fullmatch(val) or val == '...' else _literal(val)}"
        )
    return "{" + ", ".join(items) + "}"


def _literal(value: str) -> str:
    """A `key=value` value as Python writes it: booleans, numbers, quoted text, else a string."""
    if value.lower() in ("true", "false"):
        return value.capitalize()
    if re.fullmatch(r"-?\d+", value) or value.startswith(("'", '"')):
        return value
    return repr(value)


def _is_name(value: str) -> bool:
    """Whether `value` names a dataset type or a public layout."""
    from trlprep.errors import UsageError
    from trlprep.importers import is_layout
    from trlprep.registry import get_type

    try:
        get_type(value)
    except UsageError:
        return is_layout(value)
    return True
