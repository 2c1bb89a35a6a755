"""CLI text said in the words of the Python API (`python_words`): each flag as the keyword
argument of the function speaking (`--on-error skip` -> `on_error='skip'`), and a
`trlprep convert DATA ... -o OUT` command as `OUT = trlprep.convert(DATA, ...)`."""

from __future__ import annotations

import re
from collections.abc import Callable

from trlprep.keywords import (
    BOOL,
    BOOL_OR,
    CHOICE,
    COMMAND_FUNCTIONS,
    FALSE,
    NAME,
    NESTED,
    NUMBER,
    PAIRS,
    SOURCE,
    WORD,
    fallback,
    function_of,
    spec,
    train_words,
)

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
# CLI commands no API function mirrors, said as the Python call that tells the same
_CLI_ONLY = {
    "`trlprep schema TYPE`": "`trlprep.get_type('TYPE').columns`",
    "`trlprep templates`": "`trlprep.templates.list_builtins()`",
    # a stopped conversion: the API writes no file, it returns the rows and warns of the rest
    "nothing was written; ": "",
    "to write the other rows and set these aside in a rejects file": "to get the other rows "
    "back (these are in the RejectedRowsWarning's .rejects table)",
}
# `--template-kwarg a=1 --template-kwarg b=2`: one dict, as the keyword takes them (only
# when nothing or a comma is between them: `(--map a=b) --map c=d` keeps its parenthesis)
_REPEATED = re.compile(r"(--(map|role-map|template-kwarg) [^\s`(),;:]+?),? --\2 ")


def python_words(text: str | None, func: Callable | None = None) -> str | None:
    """`text` (an error's message or hint written for the CLI) as the Python API says it:
    each CLI flag that `func` (the public function that raised it) takes as a keyword
    argument said as that keyword (`--on-error skip` -> `on_error='skip'`, `--map a=b` ->
    `map={'a': 'b'}`, a run of flags as keywords joined by commas), one only
    `trlprep.convert` takes as that call, and `trlprep convert DATA ... -o OUT` as
    `OUT = trlprep.convert(DATA, ...)`, `trlprep schema TYPE` as `trlprep.get_type('TYPE')
    .columns`; flags no API function takes are left as they are,
    and every other word of `text` too. `func` None: every keyword of the table."""
    if not text or "--" not in text and "trlprep " not in text:
        return text
    for cli, call in _CLI_ONLY.items():
        text = text.replace(cli, call)
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
    said = said or _flag(m.group(1), m.group(2), fallback(func)[0])
    return " " if said is None else said[1]


def _run(run: list[re.Match], func: Callable | None) -> str:
    """Flags side by side (`--map a=b --coerce`) as keywords joined by commas: `func`'s, or
    one call of the convert of `func`'s kind (`trlprep.convert(..., ...)`,
    `trlprep.ray.convert(..., ...)`) when `func` lacks one of them."""
    said = [_flag(m.group(1), m.group(2), func) for m in run]
    if all(s is not None for s in said):
        return _joined([s[0] for s in said]) + said[-1][1]
    convert, name = fallback(func)
    said = [_flag(m.group(1), m.group(2), convert) for m in run]
    if func is None or func is convert or any(s is None for s in said):
        return " ".join(_bare(m, func) for m in run)
    return f"{name}(..., {_joined([s[0] for s in said])}){said[-1][1]}"


def _joined(said: list[str]) -> str:
    """Keywords joined by commas, `import_options={...}` ones merged into one dict."""
    nested = [s[len(NESTED) + 2 : -1] for s in said if s.startswith(NESTED + "={")]
    if len(nested) < 2:
        return ", ".join(said)
    first = next(i for i, s in enumerate(said) if s.startswith(NESTED + "={"))
    rest = [s for s in said if not s.startswith(NESTED + "={")]
    return ", ".join([*rest[:first], NESTED + "={" + ", ".join(nested) + "}", *rest[first:]])


def _bare(m: re.Match, func: Callable | None) -> str:
    """A flag alone: the keyword `func` takes, else `trlprep.convert(..., kw)` (or the
    convert of `func`'s kind)."""
    name, value = m.group(1), m.group(2)
    said = _flag(name, value, func)
    if said is not None:
        return said[0] + said[1]
    convert, call = fallback(func)
    said = _flag(name, value, convert) if func is not None and func is not convert else None
    if said is None:
        return m.group(0)
    return f"{call}(..., {said[0]}){said[1]}"


def _command(text: str, m: re.Match, speaker: Callable | None = None) -> tuple[int, str]:
    """Where the command `m` starts ends in `text` (at the first word that is neither DATA,
    `-o OUT`, a flag nor its value), and it said as Python: `trlprep convert DATA --to pc
    -o OUT` -> `OUT = trlprep.convert(DATA, to='pc')` (`trlprep.ray.convert` where a Ray
    function, `speaker`, says it); as it is when a flag of it has no keyword in its
    function."""
    command = m.group(1) or m.group(2)
    func, call = function_of(command), COMMAND_FUNCTIONS[command][0]
    if command == "convert":
        func, call = fallback(speaker)
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


def _flag(name: str, value: str | None, func: Callable | None) -> tuple[str, str] | None:
    """`--name value` as `func`'s keyword argument and what follows it (the value's trailing
    punctuation, or the sentence's word when `value` is none of the flag's values); None
    when `func` takes no keyword for it."""
    said = spec(name, func)
    if said is None:
        return None
    keyword, kind, choices = said
    if keyword.startswith(NESTED):  # `import_options={'map': ` ... `}`
        said = _flag_said(keyword[len(NESTED) + 3 : -3], kind, choices, value)
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
    if kind == SOURCE and _is_builtin_template(value):  # `--chat-template chatml`
        return repr(value)
    return None


def _is_builtin_template(value: str) -> bool:
    from trlprep.templates.builtins import builtin_name

    return builtin_name(value) is not None


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
