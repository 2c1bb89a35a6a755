"""The render sweep's cases (`rendersweep.py`): each conversational real sample here, how
trlprep reads it, and the further `--to` targets rendered; and each template's options."""

from __future__ import annotations

# name -> (sample file, extra CLI arguments reading it, further `--to` targets to render)
CASES: dict[str, tuple[str, list[str], list[str]]] = {
    "glaive_toolcall": ("glaive_toolcall/glaive_toolcall_en_demo.json", [], ["prompt-only"]),
    "openai_drone": ("openai_drone_toolcalls/drone_training.first6.jsonl", [], []),
    "hh_rlhf": (
        "hh_rlhf/harmless-base-test.sample.jsonl",
        ["--from", "hh", "--conversational"],
        ["preference", "prompt-completion"],
    ),  # fmt: skip
    "kto_demo": ("kto_demo/kto_en_demo.json", [], ["prompt-only"]),
    "fastchat_dummy": ("fastchat_dummy/dummy_conversation.json", [], ["prompt-completion"]),
    "dpo_demo": ("dpo_demo/dpo_en_demo.json", [], ["unpaired", "prompt-only"]),
    "mllm_demo": ("mllm_demo/mllm_demo.json", [], []),
    "mllm_video": ("mllm_video_audio/mllm_video_demo.json", [], []),
    "xtuner_inline_media": ("xtuner_inline_media/qwen35_tokenize_data.lines13-16.jsonl", [], []),
    "xtuner_mllm_image": (
        "xtuner_mllm_sft_image/mllm_sft_single_image_example_data_new.jsonl",
        [],
        [],
    ),  # fmt: skip
    "lf_v1_sft": ("llamafactory_v1/v1_sft_demo.first100.jsonl", [], []),
    "lf_v1_dpo": ("llamafactory_v1/v1_dpo_demo.jsonl", [], ["preference"]),
    "lf_v1_reason_tools": ("llamafactory_v1/reason_tool_use_demo.first20.jsonl", [], []),
    "oasst_trees": ("oasst_trees/en_100_tree.first20.jsonl", [], []),
    "oasst_messages": ("oasst_messages/en_100_message.first8.jsonl", [], []),
    "mt_bench": ("mt_bench/question.jsonl", ["--from", "mt-bench", "--conversational"], []),
    "rlvr": ("open_instruct_rlvr/rlvr_test.jsonl", [], []),
    "human_eval_gen": (
        "open_instruct_human_eval/eval_instances_tulu_1.first60.jsonl",
        ["--from", "generations", "--conversational"],
        [],
    ),  # fmt: skip
    "verl_gsm8k": ("xtuner_verl_gsm8k/gsm8k_train_example_data.first50.jsonl", [], []),
    "toolbench": ("toolbench_trajectories/toolbench_train_messages.jsonl", [], ["prompt-only"]),
    "xtuner_qwen35_tools": (
        "xtuner_qwen35_toolcalls/qwen35_tokenize_data.first12.jsonl",
        [],
        ["prompt-completion"],
    ),  # fmt: skip
    "openai_batch": (
        "openai_batch_requests/batch_requests.jsonl",
        ["--map", "messages=body.messages"],
        [],
    ),  # fmt: skip
    "arena_hard": (
        "arena_hard_questions/question.first60.jsonl",
        ["--from", "mt-bench", "--conversational"],
        [],
    ),  # fmt: skip
    "swift_multi": ("swift_llm_data/swift_multi.jsonl", [], []),
    "swift_sharegpt": ("swift_llm_data/sharegpt.jsonl", [], []),
    "torchtune_chat": ("torchtune_assets/chat_tiny.json", [], []),
    "axolotl": ("axolotl_fixtures/conversation.json", [], []),
    "orz_aime": ("orz_aime_prompts/aime2024.json", [], []),
    "orz_aime_sft": (
        "orz_aime_prompts/aime2024.json",
        ["--from", "sharegpt", "--map", "completion=final_answer"],
        [],
    ),  # fmt: skip
    "acecode_ranked": (
        "open_instruct_acecode/acecode_sample.jsonl",
        [
            "--from",
            "ranked",
            "--map",
            "prompt=context_messages,completions=inferences",
            "--conversational",
        ],
        ["unpaired"],
    ),  # fmt: skip
    "synth_pref_gen": (
        "open_instruct_synth_pref/generate_responses_out.model0.jsonl",
        ["--conversational"],
        [],
    ),  # fmt: skip
    "swift_single": ("swift_llm_data/swift_single.jsonl", [], []),
    "swift_single_csv": ("swift_llm_data/swift_single.csv", [], []),
    "swift_mm1": ("swift_llm_data/multi_modal_1.jsonl", [], []),
    "swift_mm2": ("swift_llm_data/multi_modal_2.jsonl", [], []),
    "mllm_audio": ("mllm_video_audio/mllm_audio_demo.json", [], []),
    "mllm_video_audio": ("mllm_video_audio/mllm_video_audio_demo.json", [], []),
    "xtuner_video_paths": ("xtuner_video_paths/mllm_sft_video_hf_example_data.jsonl", [], []),
    "oasst_flat": ("oasst_messages/en_100_message.first8.flat.jsonl", [], []),
    "qwenvl_images": ("qwenvl_finetune_demo/single_images.json", [], ["prompt-completion"]),
    "qwenvl_video": ("qwenvl_finetune_demo/video.json", [], []),
    "oumi_chat": ("oumi_dataset_examples/oumi_format.jsonl", [], ["prompt-completion"]),
    "oumi_vision": ("oumi_dataset_examples/vision_language_oumi_format.jsonl", [], []),
    "oumi_vl_dpo": (
        "oumi_dataset_examples/vision_language_dpo_format.jsonl",
        [],
        ["unpaired", "prompt-only"],
    ),  # fmt: skip
    "functionary_v1": (
        "functionary_test_cases/test_case_v1.json",
        ["--from", "openai-chat"],
        ["prompt-completion"],
    ),  # fmt: skip
    "oumi_tool_calling": (
        "oumi_tool_calling/tool_calling_oumi_format.jsonl",
        [],
        ["prompt-completion", "prompt-only"],
    ),  # fmt: skip
    "swift_sampling_dpo": ("swift_sampling_dpo/sampling.jsonl", [], ["unpaired", "prompt-only"]),
    "nemo_aligner_dpo": (
        "nemo_aligner_dpo/dummy-dpo.jsonl",
        ["--map", "chosen=chosen_response,rejected=rejected_response", "--conversational"],
        ["unpaired"],
    ),  # fmt: skip
    "openr_math_aps": (
        "openr_math_aps/samples_math-aps.jsonl",
        [
            "--from",
            "ranked",
            "--map",
            "prompt=question,completions=reasoning_steps",
            "--conversational",
        ],
        ["unpaired"],
    ),  # fmt: skip
    "pandalm": (
        "pandalm_testset/testset-v1.first180.json",
        ["--coerce", "--conversational"],
        ["unpaired"],
    ),  # fmt: skip
    "verifiers_prml": (
        "verifiers_prml_think/results.jsonl",
        [],
        ["language-modeling", "prompt-only"],
    ),  # fmt: skip
    "sky_t1_amc23": (
        "skythought_amc23/sky_t1_14b_amc23.jsonl",
        ["--from", "generations", "--map", "prompt=question,completions=code", "--conversational"],
        ["language-modeling"],
    ),  # fmt: skip
    "glaive_zh": ("glaive_toolcall_zh/glaive_toolcall_zh_demo.first40.json", [], ["prompt-only"]),
    "dpo_zh": ("dpo_zh_demo/dpo_zh_demo.sample.json", [], ["unpaired"]),
    "identity": ("llamafactory_identity/identity.json", ["--conversational"], []),
    "glaive_all_turns": (
        "glaive_toolcall/glaive_toolcall_en_demo.json",
        ["--to", "prompt-completion", "--split-turns", "all"],
        [],
    ),  # fmt: skip
}
# each sample that `--split-turns all` splits (language modeling -> prompt-completion), read so
ALL_TURNS = ("openai_drone", "fastchat_dummy", "mllm_demo", "mllm_video", "xtuner_inline_media",
             "xtuner_mllm_image", "lf_v1_sft", "lf_v1_reason_tools", "oasst_trees",
             "oasst_messages", "toolbench", "xtuner_qwen35_tools", "swift_sharegpt",
             "torchtune_chat", "axolotl", "mllm_audio", "mllm_video_audio", "xtuner_video_paths",
             "oasst_flat", "oumi_chat", "oumi_vision", "oumi_tool_calling",
             "glaive_zh")  # fmt: skip
CASES.update(
    {
        f"{name}_all_turns": (
            CASES[name][0],
            [*CASES[name][1], "--to", "prompt-completion", "--split-turns", "all"],
            [],
        )
        for name in ALL_TURNS
    }
)
# the options each original template reads, swept on top of its defaults (`--kwargs`)
KWARGS: dict[str, list[dict]] = {
    "diffusion_gemma": [{"enable_thinking": True}, {"preserve_thinking": True}],
    "glm4moe": [{"enable_thinking": False}],
    "gptoss": [{"reasoning_effort": "high"}],
    "lfm2_2_5": [{"preserve_thinking": True}],
    "llama3_1": [{"date_string": "01 Jan 2025"}],
    "llama3_2": [{"date_string": "01 Jan 2025"}],
    "nemotron_3_nano": [{"enable_thinking": False}, {"truncate_history_thinking": False}],
    "nemotron_3_super": [{"enable_thinking": False}, {"truncate_history_thinking": False}],
    "nemotron_3_ultra": [{"enable_thinking": False}, {"truncate_history_thinking": False}],
    "qwen2_5_vl": [{"add_vision_id": True}],
    "qwen3": [{"enable_thinking": False}],
    "qwen3_5_nothink": [{"enable_thinking": True}],
    "qwen3_5_think": [{"enable_thinking": False}],
    "qwen3_6": [{"enable_thinking": False}, {"preserve_thinking": True}],
    "qwen3_vl": [{"add_vision_id": True}],
}
