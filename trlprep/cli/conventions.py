"""What every `trlprep` command shares on its command line.

- Help shows names, not types: `PATH`, `--to TYPE`, `--max-errors N` (a metavar is derived
  from the parameter's name when the command gives none).
- Every boolean flag takes `--flag`, `--no-flag` and `--flag true|false` (`--flag=false`),
  as TRL's HfArgumentParser does.
- Commands are listed in the order data flows through them.
- Plain values (text, flags, whole and decimal numbers, lists of text) are converted without typer's
  pydantic adapters: importing pydantic is a tenth of a second of every command's start-up.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

ORDER = (
    "detect",
    "validate",
    "report",
    "convert",
    "import",
    "graph",
    "templates",
    "check-template",
    "pack",
    "schema",
    "train",
)
TRUE = ("true", "yes", "1", "on")
FALSE = ("false", "no", "0", "off")

# parameter name -> the word help shows for its value
METAVARS = {
    "path": "PATH",
    "data": "DATA",
    "output": "PATH",
    "rejects": "PATH",
    "to": "TYPE",
    "from_": "TYPE|LAYOUT",
    "type": "TYPE",
    "data_format": "FORMAT",
    "input_format": "FORMAT",
    "output_format": "FORMAT",
    "split": "SPLIT",
    "chat_template": "SRC",
    "tokenizer": "SRC",
    "tools": "FILE",
    "template_kwarg": "KEY=VALUE",
    "role_map": "FROM=TO,...",
    "map_role": "FROM=TO,...",
    "map_": "NEW=OLD,...",
    "step_separator": "TEXT",
    "on_error": "stop|skip",
    "on_bad_lines": "error|skip",
    "label_merge": "MODE",
    "split_mode": "word|char",
    "order": "interleaved|blocks",
    "no_prompt": "error|warn|drop",
    "truncation": "keep_start|keep_end",
    "prompt_style": "auto|alpaca|plain",
    "pairing": "PAIRING",
    "strategy": "bfd|bfd_split|wrapped",
    "fmt": "FORMAT",
    "report_format": "text|json|github",  # validate
    "data_report_format": "text|json|html",  # report
}


def _metavar(param: Any) -> str:
    if param.name in METAVARS:
        return METAVARS[param.name]
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    annotation = str(getattr(desc, "annotation", ""))
    if "int" in annotation:
        return "N"
    if "float" in annotation:
        return "X"
    return (param.name or "value").strip("_").upper()


def _is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def _is_bool_flag(param: Any) -> bool:
    return param.param_type_name == "option" and bool(getattr(param, "is_bool_flag", False))


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class _Refused(Exception):
    """A value the light conversion leaves to typer's own (its error message included)."""


def _plain(value: Any, kind: type, low: float | None) -> Any:
    if (kind is str and isinstance(value, str)) or (kind is bool and type(value) is bool):
        return value
    if kind is int and type(value) is int:
        number: Any = value
    elif kind is int and isinstance(value, str) and _INT.fullmatch(value):
        number = int(value)
    elif kind is float and type(value) is float:
        number = value
    elif kind is float and isinstance(value, str) and _FLOAT.fullmatch(value):
        number = float(value)
    else:
        raise _Refused
    if low is not None and number < low:
        raise _Refused
    return number


class _LightCoercion:
    """Converts a str / bool / int / float / list[str] parameter's value as typer's adapter would,
    handing anything unusual to typer's own conversion (built only then)."""

    def __init__(self, param: Any, kind: type, is_list: bool) -> None:
        self.descriptor = param.type_descriptor
        self.kind, self.is_list = kind, is_list
        self.low = self.descriptor.parameter_info.min
        self._full: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            if value is None:
                return () if (param.multiple or param.nargs == -1) else None
            if self.is_list:
                if not isinstance(value, (list, tuple)):
                    raise _Refused
                return [_plain(v, self.kind, self.low) for v in value]
            return _plain(value, self.kind, self.low)
        except _Refused:
            if self._full is None:
                from typer._coercion import build_runtime_param

                self._full = build_runtime_param(self.descriptor)
            return self._full.coerce(value, param=param, ctx=ctx)


def _light(param: Any) -> None:
    """Give `param` the light conversion when its type is a plain one."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "_runtime_param", False) is not None:
        return  # another typer than the one this was written for: leave it as it is
    info = desc.parameter_info
    if desc.file_annotation is not None or info.parser is not None or desc.is_choice:
        return
    if info.max is not None or info.clamp:
        return
    annotation = desc.annotation
    if annotation == list[str]:
        param._runtime_param = _LightCoercion(param, str, True)
    elif annotation in (str, bool, int, float):
        if annotation in (str, bool) and info.min is not None:
            return
        param._runtime_param = _LightCoercion(param, annotation, False)


class Command(TyperCommand):
    """A command following the conventions above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for p in self.params:
            _light(p)
        taken = {o for p in self.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}
        for p in self.params:
            if _is_bool_flag(p):
                p.show_default = False  # `--x / --no-x` says it; the help says the default
                if not p.secondary_opts:
                    long = next((o for o in p.opts if o.startswith("--")), None)
                    if long and "--no-" + long[2:] not in taken:
                        p.secondary_opts = ["--no-" + long[2:]]
            elif p.metavar is None and not getattr(p, "is_flag", False):
                p.metavar = _metavar(p)

    def get_help_option(self, ctx: typer.Context) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _light(option)
        return option

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            args = bool_values(self.params, args)
        except typer.BadParameter as e:
            e.ctx = ctx
            raise
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for p in self.get_params(ctx):
            if _is_argument(p):
                name = p.metavar or p.name.upper()
                pieces.append(name if p.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        args, opts = [], []
        for p in self.get_params(ctx):
            record = p.get_help_record(ctx)
            if record is None:
                continue
            if _is_argument(p):
                args.append((p.metavar or p.name.upper(), record[1]))
            else:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


def bool_values(params: list[Any], args: list[str]) -> list[str]:
    """Rewrite `--flag true|false` and `--flag=false` into `--flag` / `--no-flag`."""
    flags: dict[str, tuple[str, str]] = {}  # option -> (its "on" spelling, its "off" spelling)
    for p in params:
        if _is_bool_flag(p) and p.secondary_opts:
            on, off = p.opts[-1], p.secondary_opts[0]
            for o in p.opts:
                flags[o] = (on, off)
            for o in p.secondary_opts:
                flags[o] = (off, on)
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i:])
            break
        name, eq, value = a.partition("=")
        if name in flags and eq:
            out.append(_spelling(name, value, flags[name]))
        elif a in flags and i + 1 < len(args) and args[i + 1].lower() in (*TRUE, *FALSE):
            out.append(_spelling(a, args[i + 1], flags[a]))
            i += 1
        else:
            out.append(a)
        i += 1
    return out


def _spelling(name: str, value: str, spellings: tuple[str, str]) -> str:
    v = value.lower()
    if v in TRUE:
        return spellings[0]
    if v in FALSE:
        return spellings[1]
    raise typer.BadParameter(f"takes true or false, not {value!r}", param_hint=name)


class Group(TyperGroup):
    """The `trlprep` group: commands listed in data-flow order."""

    def get_help_option(self, ctx: typer.Context) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _light(option)
        return option

    def list_commands(self, ctx: typer.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(self.commands, key=lambda n: (rank.get(n, len(ORDER)), n))
