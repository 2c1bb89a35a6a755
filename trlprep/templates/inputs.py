"""Messages as a chat template expects them: parsed tool-call arguments, content parts fitted
to what the template renders, `<image>` placeholders turned into image parts.

- `tool_calls[].function.arguments` reach the template as the parsed JSON value (a dict),
  transformers' convention, whether the data holds an object or JSON text (OpenAI writes
  strings; `jsonargs` keeps objects as their text, strings as their JSON literal); text
  that is not the JSON of an object (invalid, or encoded twice) fails the row.
- Content given as a list of text-only parts is joined into one string (no separator) on a
  template that renders only string content for that role (found once per template by
  rendering a probe: `probes.parts_roles`), instead of the template printing the list's
  Python repr or raising; templates that render parts get them as they are (roles probed:
  system, user, assistant, tool; other roles' text parts are joined). Image parts on a
  role the template cannot render parts for fail the row. String content on a role the
  template renders only as parts (Idefics3, LLaVA-Next: a string renders as nothing or
  raises; `probes.parts_only_roles`) becomes one text part, as TRL's vision format gives it.
- Whether the template renders an assistant turn's tool calls and the `tools` it is given
  is probed once per template too (`probes.tool_support`: does the probe call's or tool's
  name appear in the render?), so rows whose calls or tools a template drops can be counted.
- With media beside the conversation (`images`/`image`, `videos`, `audios`), each
  `<image>` (`<video>`, `<audio>`) in string content becomes an image (video, audio) part,
  the text around it text parts; the placeholders plus the parts of each medium must
  number as many as the row's entries of its column, else the row fails. A placeholder
  whose medium has no column stays text; media parts without their column are not counted
  (the render report says so for video and audio).
- Every other string content of data with an image column (`image` / `images`, even in a
  row of none) becomes one text part, and of data with only videos or audios stays a
  string: TRL's trainers take a dataset as vision data only with an `image` / `images`
  column, and only then make string contents text parts (`prepare_multimodal_messages`);
  other data reaches the template as written. Templates mostly render the two alike
  (Qwen2.5-VL, Qwen3-VL, Qwen3.5); diffusion_gemma does not (a system text part ends with
  a space). `columns.placeholders.map_placeholders` writes the data by the same rule, so
  the render equals the original template's render of the written rows as TRL passes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trlprep.columns.arrowtypes import is_media_part, media_kind
from trlprep.columns.placeholders import PLACEHOLDERS, split_text
from trlprep.templates.probes import TOOL_TEMPLATES, parts_only_roles, parts_roles, tool_support
from trlprep.templates.rules import RowError
from trlprep.templates.template import ChatTemplate
from trlprep.wording import article


@dataclass
class Prepared:
    """What preparing one row's conversations did (for the template report)."""

    joined: bool = False  # text-only parts joined into a string
    images: int = 0  # placeholders and image parts found
    tool_calls: int | None = None  # the first message holding tool calls, if any


def count_images(messages: list) -> int:
    """`<image>` placeholders in string contents plus image parts in list contents."""
    return sum(image_marks(messages))


def image_marks(messages: list) -> tuple[int, int]:
    """(`<image>` placeholders in string contents, image parts in list contents); video,
    audio and file parts are not images (`media_marks` counts videos and audios)."""
    return media_marks(messages, "image")


def media_marks(messages: Any, kind: str) -> tuple[int, int]:
    """(`kind` placeholders (`<image>`, `<video>`, `<audio>`) in the string contents of
    `messages`, `kind` parts in their list contents)."""
    if not isinstance(messages, list):
        return 0, 0
    mark = PLACEHOLDERS[kind]
    holders = parts = 0
    for m in messages:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            holders += c.count(mark)
        elif isinstance(c, list):
            parts += sum(1 for p in c if isinstance(p, dict) and media_kind(p) == kind)
    return holders, parts


def prepare(
    messages: list,
    column: str,
    roles: frozenset[str],
    *,
    vision: bool = False,
    template_name: str = "the template",
    args_text: bool = False,
    media: tuple[str, ...] = (),
    parts_only: frozenset[str] = frozenset(),
    vision_data: bool = False,
) -> tuple[list, Prepared]:
    """`messages` ready for the template (new dicts where changed; see the module doc).

    `roles`: the roles the template renders parts for (`parts_roles`); `vision`: the row has
    images, so `<image>` placeholders become image parts; `media`: other media the row has
    (`video`, `audio`), whose placeholders become their parts; `parts_only`: the roles the
    template renders only as parts (`parts_only_roles`), whose string content becomes one
    text part, as TRL's vision format gives it; `vision_data`: the data has an image column
    (TRL's vision data: every string content becomes text parts); `args_text`: tool-call
    arguments are tagged JSON text of the user's values (`jsonargs`). Raises RowError naming
    the message.
    """
    kinds = ("image", *media) if vision else media
    info = Prepared()
    out = messages
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        new = m
        calls = m.get("tool_calls")
        if calls:
            new = _with_parsed_arguments(new, calls, column, i, args_text)
            if info.tool_calls is None:
                info.tool_calls = i
        content = new.get("content")
        if vision:
            info.images += count_images([new])
        if isinstance(content, str) and (
            vision or vision_data or new.get("role") in parts_only or _marks_any(content, kinds)
        ):
            new = {**new, "content": split_text(content, kinds)}
            content = new["content"]
        if isinstance(content, list) and any(_untyped(p) for p in content):
            raise RowError(
                f"message {i}: a content part has no type (a part needs a `type` string: "
                "text, image, ...)",
                column,
                hint='write each part as {"type": "text", "text": ...} (or an image, '
                "video, audio part); rule invalid-part",
            )
        if isinstance(content, list) and content and _is_parts(content):
            role = new.get("role")
            if role not in roles:
                media = list(dict.fromkeys(p["type"] for p in content if is_media_part(p)))
                if media:  # named as they are: a video or audio part is no image
                    raise RowError(
                        f"message {i} ({role}) has {' and '.join(media)} parts, and "
                        f"{template_name} renders only text content for {role} messages",
                        column,
                        hint=f"use a chat template that renders {' and '.join(media)} parts "
                        "(a vision model's, for images)",
                    )
                other = next((p["type"] for p in content if p["type"] != "text"), None)
                if other is not None:  # its text joined into the content would be the answer's
                    raise RowError(
                        f"message {i} ({role}) has a content part of type {other!r}, and "
                        f"{template_name} renders only text content for {role} messages",
                        column,
                        hint="keep reasoning in the message's reasoning_content (or thinking) "
                        "field and refusals as text parts; LLaMA-Factory v1 data: "
                        "--from llamafactory-v1",
                    )
                new = {**new, "content": "".join(_text(p, column, i) for p in content)}
                info.joined = info.joined or isinstance(m.get("content"), list)
            else:  # a text part without text renders as nothing: refused as validate does
                for p in content:
                    if p["type"] == "text":
                        _text(p, column, i)
        if new is not m:
            if out is messages:
                out = list(messages)
            out[i] = new
    return out, info


def _marks_any(content: str, kinds: tuple[str, ...]) -> bool:
    """Whether `content` holds a placeholder of one of `kinds`."""
    return any(PLACEHOLDERS[k] in content for k in kinds)


def prepare_example(
    example: dict, columns: tuple[str, ...], template: ChatTemplate, images: int | None
) -> dict:
    """One example's conversations (`columns`) prepared for `template`; `images`: how many
    images the example has (None: no image column); video / audio placeholders and parts
    are counted against the example's `videos` / `audios` list where it has one. Raises
    RowError."""
    from trlprep.columns.placeholders import mismatch as media_mismatch
    from trlprep.columns.placeholders import sequences
    from trlprep.columns.unmarked import placed_in_example, placed_text
    from trlprep.errors import warn_user

    roles = parts_roles(template)
    convs = {c: example[c] for c in columns if isinstance(example.get(c), list)}
    held = {"image": images}
    for kind in ("video", "audio"):  # checked where the example has the column
        value = example.get(f"{kind}s")
        held[kind] = len(value) if isinstance(value, list) else None
    convs, placed = placed_in_example(convs, held)  # media with no placeholder: as TRL does
    for kind in placed:  # said as a dataset's rows are (`templates.api._placed`)
        warn_user(f"the example: {placed_text(kind)}")
    seqs = sequences(convs)
    for kind, n in held.items():
        if n is None:
            continue
        marks = {c: media_marks(v, kind) for c, v in convs.items()}
        for seq in seqs:  # each sequence holds the example's media
            holders, parts = sum(marks[c][0] for c in seq), sum(marks[c][1] for c in seq)
            if holders + parts != n:
                label = "+".join(seq) + ": " if len(seqs) > 1 else ""
                raise RowError(label + media_mismatch(kind, holders, parts, n))
    media = tuple(k for k in ("video", "audio") if held[k])
    out = dict(example)
    for c, value in convs.items():
        out[c], _ = prepare(
            value, c, roles, vision=bool(images), template_name=template.name, media=media,
            parts_only=parts_only_roles(template), vision_data=images is not None,
        )  # fmt: skip
    return out


def first_tool_call(messages: Any) -> int | None:
    """The index of the first message of `messages` holding tool calls (None: none)."""
    if not isinstance(messages, list):
        return None
    for i, m in enumerate(messages):
        if isinstance(m, dict) and m.get("tool_calls"):
            return i
    return None


def tool_call_error(e: RowError, template: ChatTemplate, row: dict, tools: bool) -> RowError:
    """`e`, said as what it is when `template` raised on a row holding tool calls it cannot
    render (`row`: column -> messages; `tools`: the row is given tools)."""
    if not getattr(e, "raised_by_template", False):
        return e
    if tool_support(template).renders_calls(tools):
        return e
    for column, messages in row.items():
        i = first_tool_call(messages)
        if i is None:
            continue
        bare = messages[i].get("content") is None
        return RowError(
            f"{template.name} cannot render tool-call turns: message {i} "
            + ("holds tool calls and no content" if bare else "holds tool calls")
            + f" ({e.message})",
            column,
            hint="use a template that renders tool calls: --chat-template {} (or {}), or set "
            "these rows aside (--on-error skip)".format(*TOOL_TEMPLATES.split(", ", 1)),
        )
    return e


def _untyped(part: Any) -> bool:
    return isinstance(part, dict) and not isinstance(part.get("type"), str)


def _is_parts(content: list) -> bool:
    return all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in content)


def _text(part: dict, column: str, i: int) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        v1 = isinstance(part.get("value"), str)
        raise RowError(
            f"message {i}: a text part has no `text` string"
            + (" (it holds `value`: LLaMA-Factory's v1 layout)" if v1 else ""),
            column,
            hint="import it with --from llamafactory-v1" if v1 else None,
        )
    return text


def _kind(value: Any) -> str:
    return {str: "string", list: "list", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _with_parsed_arguments(m: dict, calls: Any, column: str, i: int, text: bool) -> dict:
    if not isinstance(calls, list):
        return m
    new_calls = []
    changed = False
    for k, call in enumerate(calls):
        if not isinstance(call, dict):
            new_calls.append(call)
            continue
        fn = call.get("function")
        holder = fn if isinstance(fn, dict) else call
        args = holder.get("arguments")
        if isinstance(args, str):
            where = f"message {i}: tool call {k}" + (
                f" ({holder['name']})" if isinstance(holder.get("name"), str) else ""
            )
            try:
                parsed = json.loads(args)
                if text and isinstance(parsed, str):  # the user's string, as JSON text
                    parsed = json.loads(parsed)
            except json.JSONDecodeError as e:
                raise RowError(
                    f"{where}: arguments are not valid JSON ({e.msg} at character {e.pos})",
                    column,
                    hint="tool-call arguments must be a JSON object or its JSON text",
                ) from None
            if not isinstance(parsed, dict):
                twice = isinstance(parsed, str)
                raise RowError(
                    f"{where}: arguments are the JSON text of {article(_kind(parsed))}, not of an "
                    "object" + (" (encoded twice?)" if twice else ""),
                    column,
                    hint="tool-call arguments must be a JSON object or its JSON text"
                    + (
                        " (a Parquet or Arrow file trlprep wrote, loaded with `datasets` or "
                        "pandas, shows string arguments as their JSON literal: pass its path "
                        "to trlprep instead)"
                        if twice and not text
                        else ""
                    ),
                )
            holder = {**holder, "arguments": parsed}
            call = {**call, "function": holder} if isinstance(fn, dict) else holder
            changed = True
        new_calls.append(call)
    return {**m, "tool_calls": new_calls} if changed else m


__all__ = [
    "Prepared",
    "count_images",
    "image_marks",
    "media_marks",
    "first_tool_call",
    "prepare",
    "prepare_example",
    "tool_call_error",
]
