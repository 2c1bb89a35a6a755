"""The Jinja sandbox chat templates run in, set up the way transformers sets it up.

Chat templates are untrusted code from model repositories. They render in Jinja's
immutable sandbox with exactly the options, extensions, globals and filters that
`transformers` gives them (`trim_blocks`, `lstrip_blocks`, the `{% generation %}` tag,
loop controls, `raise_exception`, `strftime_now`, a `tojson` that does not escape HTML,
`dict` and an underscore-refusing `namespace`), so renders match
`tokenizer.apply_chat_template(..., tokenize=False)` byte for byte.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.utils
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from trlprep.errors import InputError

__all__ = [
    "SecurityError",
    "TemplateError",
    "compile_template",
    "make_environment",
    "render_compiled",
]


class GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}`: marks assistant text; renders its body as is."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.CallBlock:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _body(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Jinja's own tojson escapes HTML characters (<, >, &, '); templates expect plain JSON.
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class _TemplateDict:
    """`dict(...)` for templates, without the class object's attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
        return dict.fromkeys(*args, **kwargs)


class _TemplateNamespace(jinja2.utils.Namespace):
    """`namespace(...)` that refuses underscore-prefixed names (no reaching CPython internals)."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - Jinja's signature trick
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(
                "chat templates cannot store underscore-prefixed attributes on a namespace, "
                f"but got {name!r}"
            )


def make_environment() -> ImmutableSandboxedEnvironment:
    """A fresh sandboxed environment configured like transformers' chat-template one."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[GenerationTag, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _TemplateDict()
    env.globals["namespace"] = _TemplateNamespace
    return env


def render_compiled(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """`template.render(**variables)`, without re-merging the environment globals each call."""
    base = template.__dict__.get("_trlprep_globals")
    if base is None:
        base = template._trlprep_globals = dict(template.globals)
    ctx = template.new_context({**base, **variables}, shared=True)
    try:
        return template.environment.concat(template.root_render_func(ctx))
    except Exception:
        template.environment.handle_exception()
        raise  # pragma: no cover - handle_exception always raises


@lru_cache(maxsize=64)
def compile_template(source: str, name: str = "chat template") -> jinja2.Template:
    """Compile a template once per process (cached by its text)."""
    try:
        return make_environment().from_string(source)
    except TemplateSyntaxError as e:
        raise InputError(
            f"{name}: cannot parse the chat template: line {e.lineno}: {e.message}",
            hint="check the template's Jinja syntax",
        ) from None
