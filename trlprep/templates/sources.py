"""Where chat templates come from: a built-in name, a .jinja file, a tokenizer or processor
(object, local folder or Hub id), or Jinja text.

Special tokens (`bos_token`, `eos_token`, ...) come from the tokenizer; for a .jinja file
they come from a `tokenizer` source or the template kwargs, and a file that uses one
without a value is refused rather than rendered with an empty token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trlprep.errors import InputError, UsageError
from trlprep.templates.builtins import builtin_name, get_builtin
from trlprep.templates.template import ChatTemplate
from trlprep.wording import article


class MissingTokenError(UsageError):
    """A template file uses a special token (`bos_token`, `eos_token`) nobody gave a value."""

    def __init__(self, message: str, *, missing: list[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing = missing


class NoTemplateError(InputError):
    """The tokenizer or file given as the chat template holds none (exit 2: a usage error,
    the fix is another --chat-template, never the data)."""

    exit_code = 2


TOKEN_VARS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token")


def load_template(
    src: Any,
    tokenizer: Any = None,
    template_kwargs: dict[str, Any] | None = None,
) -> ChatTemplate:
    """Resolve `src` to a `ChatTemplate`.

    `src`: a `ChatTemplate`, a tokenizer or processor object, a built-in name (`trlprep
    templates`), a path to a .jinja file, a tokenizer/processor folder, a Hub model id, or
    Jinja text. `tokenizer` (object, folder or Hub id) supplies special tokens for a .jinja
    file or overrides a built-in's; string values in `template_kwargs` named like special
    tokens override both.
    """
    template = _resolve(src, tokenizer)
    tokens = {
        k: v for k, v in (template_kwargs or {}).items() if k in TOKEN_VARS and isinstance(v, str)
    }
    if tokens:
        template = template.with_tokens(**tokens)
    if template.origin in ("file", "string"):
        _require_tokens(template)
    return template


def _resolve(src: Any, tokenizer: Any) -> ChatTemplate:
    extra = special_tokens_of(_as_tokenizer(tokenizer)) if tokenizer is not None else {}
    if isinstance(src, ChatTemplate):
        return src.with_tokens(**extra) if extra else src
    if not isinstance(src, (str, Path)):
        if _has_template_attr(src):
            return from_tokenizer(src, name=_object_name(src)).with_tokens(**extra)
        raise UsageError(
            f"cannot use {article(type(src).__name__)} as a chat template",
            hint="pass a tokenizer, a built-in name, a .jinja file, a folder or a Hub id",
        )
    text = str(src)
    if "{{" in text or "{%" in text:
        return ChatTemplate(
            text, name="inline chat template", special_tokens=extra, origin="string"
        )
    from trlprep.io.remote import refuse_uri

    refuse_uri(text, "chat template", local_only=True)
    canonical = builtin_name(text)
    path = Path(text).expanduser()
    if canonical is not None and not path.exists():
        b = get_builtin(canonical)
        return ChatTemplate(
            b.source(), name=b.name, special_tokens={**b.special_tokens, **extra}, origin="builtin"
        )
    if path.is_file():
        return _from_file(path, extra)
    if path.is_dir() or _looks_like_hub_id(text):
        return from_tokenizer(load_tokenizer(text), name=text).with_tokens(**extra)
    if path.suffix.lower() in _FILE_SUFFIXES or "/" in text or "\\" in text:
        raise InputError(f"{text}: no such chat template file or folder")
    raise UsageError(
        f"chat template {text!r} is not a built-in name, a file, a folder or a Hub id"
        + _closest_builtin(text),
        hint="run `trlprep templates` for the built-ins, or pass a .jinja file or tokenizer folder",
    )


def _closest_builtin(text: str) -> str:
    """` (did you mean 'qwen2.5'?)` for a misspelt built-in name, else nothing."""
    import difflib

    from trlprep.templates.builtins import BUILTINS

    close = difflib.get_close_matches(text.strip().lower(), list(BUILTINS), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _from_file(path: Path, tokens: dict[str, str]) -> ChatTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the chat template: {e}") from None
    if path.suffix == ".json":  # a tokenizer_config.json holding a chat_template
        import json

        try:
            cfg = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON: {e}") from None
        text = _pick_template(cfg.get("chat_template"), str(path))
        tokens = {**_config_tokens(cfg), **tokens}
    if not text.strip():
        raise NoTemplateError(f"{path}: the chat template file is empty")
    return ChatTemplate(text, name=path.name, special_tokens=tokens, origin="file")


def _config_tokens(cfg: dict) -> dict[str, str]:
    out = {}
    for k in TOKEN_VARS:
        v = cfg.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            out[k] = v
    return out


def _require_tokens(template: ChatTemplate) -> None:
    source = template.source
    used = [t for t in ("bos_token", "eos_token") if re.search(rf"\b{t}\b", source)]
    # a template saved by `train` with a --template-kwarg token sets it itself (imported
    # here: kwargdefaults imports this module)
    from trlprep.templates.kwargdefaults import sets_itself

    used = [t for t in used if not sets_itself(source, t)]
    missing = [t for t in used if t not in template.special_tokens]
    if missing:
        names = " and ".join(missing)
        raise MissingTokenError(
            f"{template.name} uses {names} but no value was given for it",
            missing=missing,
            hint="pass --tokenizer SRC (its special tokens are used) or "
            + " ".join(f"--template-kwarg {t}=..." for t in missing),
        )


def from_tokenizer(tokenizer: Any, name: str | None = None) -> ChatTemplate:
    """The chat template of a tokenizer or processor object, with its special tokens."""
    label = name or _object_name(tokenizer)
    raw = getattr(tokenizer, "chat_template", None)
    tok = getattr(tokenizer, "tokenizer", None)
    if raw is None and tok is not None:
        raw = getattr(tok, "chat_template", None)
    text = _pick_template(raw, label)
    return ChatTemplate(
        text, name=label, special_tokens=special_tokens_of(tokenizer), origin="tokenizer"
    )


def _pick_template(raw: Any, label: str) -> str:
    if isinstance(raw, dict):  # named templates: the default one (tool_use is picked per call)
        if "default" in raw:
            raw = raw["default"]
        else:
            raise InputError(
                f"{label} has several chat templates and none is named 'default': "
                + ", ".join(sorted(raw)),
                hint="save the one you want to a .jinja file and pass that",
            )
    if isinstance(raw, list):  # tokenizer_config.json's list form
        named = {t.get("name"): t.get("template") for t in raw if isinstance(t, dict)}
        return _pick_template(named, label)
    if not raw:
        raise NoTemplateError(
            f"{label} has no chat template",
            hint="pass a built-in name (`trlprep templates`) or a .jinja file with --chat-template",
        )
    return str(raw)


def special_tokens_of(tokenizer: Any) -> dict[str, str]:
    """The named special tokens a tokenizer passes to its template (`bos_token`, ...)."""
    tok = tokenizer
    if not hasattr(tok, "special_tokens_map") and hasattr(tok, "tokenizer"):
        tok = tok.tokenizer
    stm = getattr(tok, "special_tokens_map", None) or {}
    return {k: str(v) for k, v in stm.items() if v is not None}


def load_tokenizer(src: Any) -> Any:
    """A tokenizer (or processor, when the folder has no tokenizer template) from a source."""
    if not isinstance(src, (str, Path)):
        return src
    text = str(src)
    path = Path(text).expanduser()
    if not path.exists() and not _looks_like_hub_id(text):
        raise InputError(f"{text}: no such tokenizer folder, and not a Hub model id")
    if not path.exists():
        from trlprep.io.sources import check_hub

        check_hub(text, "tokenizer")  # no network: one error in seconds, not retries
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path) if path.exists() else text)
    except Exception as e:  # offline, gated, missing files: all reported the same way
        raise InputError(
            f"cannot load a tokenizer from {text!r}: {_first_line(e)}",
            hint=(
                "check the folder holds tokenizer files"
                if path.exists()
                else "the Hub may be unreachable (offline?) or the id wrong; download the model "
                "and pass its folder, or use a built-in template or a .jinja file"
            ),
        ) from None
    processor_files = ("processor_config.json", "preprocessor_config.json", "chat_template.json")
    if (
        getattr(tok, "chat_template", None) is None
        and path.is_dir()
        and any((path / f).exists() for f in processor_files)
    ):
        try:
            from transformers import AutoProcessor

            proc = AutoProcessor.from_pretrained(str(path))
            if getattr(proc, "chat_template", None):
                return proc
        except Exception:
            pass
    return tok


def _as_tokenizer(tokenizer: Any) -> Any:
    return load_tokenizer(tokenizer) if isinstance(tokenizer, (str, Path)) else tokenizer


def _has_template_attr(obj: Any) -> bool:
    return hasattr(obj, "chat_template") or hasattr(
        getattr(obj, "tokenizer", None), "chat_template"
    )


def _object_name(obj: Any) -> str:
    return getattr(obj, "name_or_path", None) or "the tokenizer's chat template"


_FILE_SUFFIXES = (".jinja", ".j2", ".json", ".txt")  # a template file's name, no Hub id


def _looks_like_hub_id(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.\-]+/[\w.\-]+", text)) and not text.lower().endswith(
        (".jinja", ".j2")
    )


def _first_line(e: Exception) -> str:
    msg = str(e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


def load_template_and_tokenizer(
    src: Any, tokenizer: Any = None, template_kwargs: dict[str, Any] | None = None
) -> tuple[ChatTemplate, Any]:
    """`load_template`, also giving the tokenizer object involved (None for built-ins/files)."""
    tok = _as_tokenizer(tokenizer) if tokenizer is not None else None
    if tok is None and isinstance(src, (str, Path)):
        text = str(src)
        path = Path(text).expanduser()
        if path.is_dir() or (
            not path.exists() and builtin_name(text) is None and _looks_like_hub_id(text)
        ):
            tok = load_tokenizer(text)
            src = tok
    elif tok is None and not isinstance(src, ChatTemplate) and _has_template_attr(src):
        tok = src
    return load_template(src, tokenizer=tok, template_kwargs=template_kwargs), tok
