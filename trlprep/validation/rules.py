"""The validation rules: a stable id, a severity, what it means and how to fix it.

Rule ids are part of the public interface (CI logs, `--output json`); they never change.

| rule                     | level   | a row fails when ...                                      |
| ------------------------ | ------- | --------------------------------------------------------- |
| unknown-type             | error   | no dataset type matches the columns (dataset level)       |
| invalid-line             | error   | a JSON Lines line holds no JSON object (file level)       |
| empty-dataset            | error   | the dataset has no rows (a warning with --allow-empty)    |
| missing-column           | error   | a required column is absent from the whole dataset        |
| wrong-type               | error   | a value is not of the Arrow type the type/format needs    |
| mixed-kind               | error   | its JSON kind differs from what the column needs          |
| null-value               | error   | a required value (or a step/label/token item) is null     |
| empty-string             | error   | a text, message content, text part or step is ""          |
| whitespace-only          | warning | such a string holds only whitespace or zero-width chars   |
| empty-messages           | error   | a message list is empty                                   |
| invalid-message          | error   | a message is null, or a message field has a bad type      |
| unknown-role             | error   | a role is missing or not a chat role (after --role-map)   |
| content-type             | error   | content is neither a string nor a list of parts           |
| missing-content          | error   | a message has no content and no tool_calls                |
| invalid-part             | error   | a part has no known `type`, or a text part no `text`      |
| system-not-first         | error   | a system message is not the first message                 |
| role-alternation         | warning | two consecutive messages have the same role               |
| special-token            | warning | text holds a literal special token (`<|im_start|>`, ...)  |
| nul-character            | warning | text holds a NUL character (\x00)                         |
| template-variable        | warning | text holds an unfilled template variable (`{{name}}`)     |
| image-placeholder        | warning | `<image>` placeholders in the text != images in the row   |
| media-placeholder        | warning | `<video>`/`<audio>` placeholders != videos/audios entries |
| prompt-ending            | error   | a prompt ends on a system or developer turn               |
| continue-final-message   | info    | a prompt ends on an assistant turn (continued)            |
| conversation-ending      | error   | a conversation does not end on the turn its type needs    |
| completion-not-assistant | error   | explicit completion/chosen/rejected starts off assistant  |
| no-common-prefix         | warning | implicit: no shared prompt on a message/word boundary     |
| chosen-equals-rejected   | warning | chosen and rejected are identical                         |
| label-type               | error   | `label` is not a boolean                                  |
| labels-type              | error   | `labels` is not a list of booleans                        |
| steps-mismatch           | error   | len(completions) != len(labels)                           |
| empty-steps              | error   | `completions` is an empty list                            |
| image-count              | error   | image parts in a sequence != images in the row            |
| media-count              | error   | video/audio parts+placeholders != videos/audios entries   |
| media-unplaced           | warning | media given with no placeholder or part: convert places   |
| media-unrendered         | warning | standard text with no placeholder of the row's media      |
| media-standard-text      | warning | `<image>` in standard text: TRL renders no image from it  |
| invalid-tools            | error   | `tools` is not (JSON text of) a list of function schemas  |
| unknown-tool             | warning | a tool call names a function the row's `tools` lack       |
| required-not-property    | warning | a tool schema's `required` names a property it lacks      |
| tool-result-without-call | warning | a `tool` message with no assistant tool call before it    |
| import-failed            | error   | `--from LAYOUT`: the layout's import refuses the row      |
| import-not-paired        | warning | `--from LAYOUT`: the row ties (votes, scores): no pair    |
| invalid-arguments        | error   | tool-call arguments: not the JSON text of an object       |
| double-encoded-arguments | error   | tool-call arguments: a string's JSON text (encoded twice) |
| invalid-tokens           | error   | `input_ids` is empty or holds a negative id               |
| mask-mismatch            | error   | `attention_mask` is not 0/1 or not as long as input_ids   |
| duplicate-row            | warning | the row repeats an earlier row exactly                    |

What a one-row JSON Schema (`schemas/*.json`) cannot express is listed in `BEYOND_SCHEMA`
and in each schema's `$comment`. Among those: a column must have one Arrow type across rows,
so values whose nested structure cannot be unified (a tool-call argument that is a string
in one row and an object in another) are `mixed-kind` errors; `datasets` could not load them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from trlprep.registry import EXTRA_ROLES, ROLES


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741


@dataclass(frozen=True)
class Rule:
    """One validation rule: id, severity, a one-line statement and a fix hint."""

    id: str
    severity: Severity
    summary: str
    hint: str


ALLOWED_ROLES: tuple[str, ...] = ROLES + EXTRA_ROLES
# What `trlprep validate` checks that a one-row JSON Schema cannot express.
BEYOND_SCHEMA: tuple[str, ...] = (
    "prompt-ending",
    "continue-final-message",
    "--role-map (schemas accept the canonical roles only)",
    "no-common-prefix",
    "chosen-equals-rejected",
    "steps-mismatch (lengths)",
    "image-count",
    "media-count",
    "mask-mismatch (lengths)",
    "invalid-tools (JSON text)",
    "invalid-arguments",
    "double-encoded-arguments",
    "unknown-tool",
    "required-not-property",
    "tool-result-without-call",
    "wrong-type (chat_template_kwargs JSON text)",
    "whitespace-only",
    "duplicate-row",
    "mixed-kind (one Arrow type per column)",
)
_ROLE_LIST = ", ".join(ALLOWED_ROLES)

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "unknown-type",
            E,
            "no dataset type matches the columns",
            "rename the columns to a TRL type's (see `trlprep schema TYPE`) or pass --type",
        ),
        Rule(
            "invalid-line",
            E,
            "a line of the JSON Lines file holds no JSON object",
            "fix or remove the line, or pass --on-bad-lines skip to read the other lines",
        ),
        Rule(
            "empty-dataset",
            E,
            "the dataset has no rows",
            "check the file (and --split); pass --allow-empty to accept an empty dataset",
        ),
        Rule(
            "missing-column",
            E,
            "a required column is missing",
            "add or rename the column, or pass the --type/--data-format the data really has",
        ),
        Rule(
            "wrong-type",
            E,
            "values are not of the type this column needs",
            "check --type/--data-format, or convert the column (see `trlprep schema TYPE`)",
        ),
        Rule(
            "mixed-kind",
            E,
            "this row holds a different kind of value than the column needs",
            "make every row hold the same kind (for example all message lists)",
        ),
        Rule("null-value", E, "a required value is null or missing", "fill or drop these rows"),
        Rule("empty-string", E, "a string is empty", "fill or drop these rows"),
        Rule(
            "whitespace-only",
            W,
            "a string holds only whitespace or zero-width characters",
            "check these rows; strip or drop them",
        ),
        Rule("empty-messages", E, "a message list is empty", "drop these rows"),
        Rule(
            "invalid-message",
            E,
            "a message is null or one of its fields has the wrong type",
            'each message is an object like {"role": "user", "content": "..."}',
        ),
        Rule(
            "unknown-role",
            E,
            "a message role is missing or unknown",
            f"roles are {_ROLE_LIST}; map other names with --role-map, "
            "e.g. --role-map human=user,gpt=assistant",
        ),
        Rule(
            "content-type",
            E,
            "message content is neither a string nor a list of parts",
            'use a string, or a list like [{"type": "text", "text": "..."}]',
        ),
        Rule(
            "missing-content",
            E,
            "a message has no content and no tool_calls",
            "give the message content (or tool_calls), or drop it",
        ),
        Rule(
            "invalid-part",
            E,
            "a content part has no known type, or a text part has no text",
            'parts look like {"type": "text", "text": "..."} or {"type": "image"}',
        ),
        Rule(
            "system-not-first",
            E,
            "a system message appears after the first message",
            "move the system message to the front (chat templates only accept it there)",
        ),
        Rule(
            "role-alternation",
            W,
            "two consecutive messages have the same role",
            "many chat templates (Gemma, Mistral, Llama 2, ...) demand alternating user and "
            "assistant turns and raise on these rows: merge the turns or drop the rows",
        ),
        Rule(
            "special-token",
            W,
            "text holds a literal special token of a chat template",
            "a tokenizer reads it as the control token, not as text: remove or escape it",
        ),
        Rule(
            "nul-character",
            W,
            "text holds a NUL character (\\x00)",
            "remove it; NUL is never meaningful text and breaks tokenizers and C-based tools",
        ),
        Rule(
            "template-variable",
            W,
            "text holds an unfilled template variable (`{{name}}`, no spaces inside)",
            "fill it before training (`sed -e 's/{{name}}/YOUR_NAME/g' DATA > FILLED`): the "
            "model would learn to say `{{name}}`; text meant so (a template taught as code) "
            "can stay",
        ),
        Rule(
            "image-placeholder",
            W,
            "the number of <image> placeholders in the text differs from the number of images",
            "give one image per <image> placeholder (or drop the extra placeholders)",
        ),
        Rule(
            "media-placeholder",
            W,
            "the number of <video> (<audio>) placeholders in the text differs from the "
            "entries of the videos (audios) column",
            "give one video (audio) per <video> (<audio>) placeholder, or drop the extra "
            "placeholders; without a videos (audios) column they stay text",
        ),
        Rule(
            "prompt-ending",
            E,
            "the prompt ends on a system or developer turn",
            "end the prompt on a user (or tool) turn",
        ),
        Rule(
            "continue-final-message",
            I,
            "the prompt ends on an assistant turn, so the completion continues it",
            "fine for prefilled answers; otherwise end the prompt on a user turn",
        ),
        Rule(
            "conversation-ending",
            E,
            "the conversation does not end as the type it is read as needs (unpaired "
            "preference: an assistant turn after at least one other turn; prompt-only: a "
            "user turn)",
            "end these conversations on the turn the type needs, or drop them (convert "
            "--on-error skip sets them aside); --type language-modeling checks the "
            "conversations as they are",
        ),
        Rule(
            "completion-not-assistant",
            E,
            "the completion does not start with an assistant turn",
            "completions hold the model's reply: start them with an assistant message",
        ),
        Rule(
            "no-common-prefix",
            W,
            "the implicit prompt (the shared start of chosen and rejected) cannot be "
            "extracted: it is empty, or no turn or word boundary leaves both completions "
            "non-empty",
            "check these rows, or give an explicit prompt column; converting with "
            "--on-error skip sets them aside",
        ),
        Rule(
            "chosen-equals-rejected",
            W,
            "chosen and rejected are identical",
            "drop these rows; they carry no preference signal",
        ),
        Rule("label-type", E, "label is not a boolean", "use true/false"),
        Rule("labels-type", E, "labels is not a list of booleans", "use lists of true/false"),
        Rule(
            "steps-mismatch",
            E,
            "completions and labels differ in length",
            "give exactly one label per completion step",
        ),
        Rule("empty-steps", E, "completions is an empty list", "drop these rows"),
        Rule(
            "image-count",
            E,
            "the number of image parts differs from the number of images",
            'put one {"type": "image"} part in the messages per entry of the images column',
        ),
        Rule(
            "media-count",
            E,
            "the number of video or audio parts and <video> or <audio> placeholders differs "
            "from the entries of the videos or audios column",
            'put one <video> placeholder or {"type": "video"} part (<audio>, {"type": '
            '"audio"}) in the messages per entry of the videos (audios) column',
        ),
        Rule(
            "media-unplaced",
            W,
            "images (videos, audios) are given with no placeholder or media part: convert "
            "places them at the start of the first user message, as TRL does",
            "nothing to do where the media go before the first question; else write <image> "
            "(<video>, <audio>) where each stands",
        ),
        Rule(
            "media-unrendered",
            W,
            "images (videos, audios) are given beside standard text with no placeholder: "
            "nothing in the text stands for them",
            "pass --conversational (the media are then placed at the start of the first user "
            "message, as TRL does), or write the model's own media token where each stands",
        ),
        Rule(
            "media-standard-text",
            W,
            "standard (string) text holds <image> (<video>, <audio>) placeholders beside the "
            "row's media: no chat template renders standard text, and TRL's trainers give it "
            "to the processor as it is, which reads <image> as an image only where that is "
            "its own image token (LLaVA's, Idefics3's), not Qwen-VL's or Gemma 3's",
            "pass --conversational: the text becomes messages with an image (video, audio) "
            "part where each placeholder stands, which the model's own template renders; or "
            "write the model's own media token in place of each placeholder",
        ),
        Rule(
            "invalid-tools",
            E,
            "tools is not a list of function schemas",
            'use a list like [{"type": "function", "function": {"name": ..., "parameters": '
            '{...}}}] (or its JSON text); built-in tools (`{"type": "code_interpreter"}`) '
            "have no schema: drop them or write them as one",
        ),
        Rule(
            "unknown-tool",
            W,
            "a tool call names a function that the row's tools do not list: a model trained on "
            "the row learns to call a function it was not offered",
            "add the function's schema to the row's tools, or fix the call's name",
        ),
        Rule(
            "required-not-property",
            W,
            "a tool schema's `required` names a property that its `properties` lack: the "
            "schema contradicts itself (it requires an argument it never defines), and a "
            "model trained on the row learns it so",
            "add the property to the function's `properties`, or take its name out of "
            "`required` (a function's own name written there is a common slip)",
        ),
        Rule(
            "tool-result-without-call",
            W,
            "a tool result follows no assistant tool call: the call it answers is missing, so "
            "a model trained on the row learns that results arrive unasked, and templates that "
            "pair a result with its call (GPT-OSS) refuse the row",
            "add the assistant's tool_calls that the result answers, or drop the result",
        ),
        Rule(
            "import-failed",
            E,
            "the row cannot be imported from the public layout given with --from (the "
            "message says why): convert and train would leave it out",
            "fix the rows (see the reason), or set them aside: trlprep convert DATA --from "
            "LAYOUT --on-error skip -o OUT writes the others and a rejects file",
        ),
        Rule(
            "import-not-paired",
            W,
            "the row ties (its annotators' votes or its answers' scores name no better "
            "answer), or a --map pick (`completions[model=M]`) left it no answer, so the "
            "import of the public layout given with --from makes no row of it: convert and "
            "train leave it out and count it",
            "nothing to fix: a tie is no preference, and a row without the picked answer has "
            "none to give; convert lists these rows under 'not paired' (and, with --on-error "
            "skip, in its rejects file)",
        ),
        Rule(
            "invalid-arguments",
            E,
            "a tool call's arguments are not the JSON text of an object (no JSON, or JSON of "
            "a list, number or null): no chat template can render them as the call's arguments",
            'write each call\'s arguments as an object or its JSON text ({"city": "Paris"}; {} '
            "for none; code written bare, as code-interpreter calls write it, in an object "
            'such as {"code": ...}), or set these rows aside (--on-error skip)',
        ),
        Rule(
            "double-encoded-arguments",
            E,
            "a tool call's arguments are JSON text of a string (the object's JSON text encoded "
            "twice): every chat template renders that string, not the object",
            "decode the arguments once more (arguments = json.loads(arguments)) so each is "
            "an object or the JSON text of one, or set these rows aside (--on-error skip); a "
            "Parquet or Arrow file trlprep wrote, loaded with datasets or pandas, shows string "
            "arguments this way: pass its path to trlprep instead",
        ),
        Rule(
            "invalid-tokens",
            E,
            "input_ids is empty or holds a negative id",
            "re-tokenize these rows or drop them",
        ),
        Rule(
            "mask-mismatch",
            E,
            "attention_mask is not a 0/1 list as long as input_ids",
            "rebuild attention_mask from input_ids",
        ),
        Rule(
            "duplicate-row",
            W,
            "the row repeats an earlier row exactly",
            "deduplicate (duplicates weigh those examples twice)",
        ),
    )
}


def get_rule(rule_id: str) -> Rule:
    return RULES[rule_id]
