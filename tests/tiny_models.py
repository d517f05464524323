"""Tiny random checkpoints of other architectures, built offline for the tests (nothing is downloaded).

make_tiny_vlm: Qwen2-VL: the project's tokenizer plus the four Qwen-VL special tokens, a 2-layer text
model, a 2-block vision tower and a small-image processor (256 x 256 task images -> 8 x 8 patches).
make_tiny_hybrid: Qwen3.5's text model: 3 linear-attention (gated delta rule) layers + 1 full attention.
"""
import os


def make_tiny_vlm(out_dir):
    from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil
    import torch
    import agent
    tok = AutoTokenizer.from_pretrained(agent.TOKENIZER_DIR)
    special = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok.add_special_tokens({"additional_special_tokens": special})
    ids = {t: tok.convert_tokens_to_ids(t) for t in special}
    cfg = Qwen2VLConfig(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=4096,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), bos_token_id=None),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(0)
    Qwen2VLForConditionalGeneration(cfg).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(out_dir)
    return os.fspath(out_dir)


def make_tiny_hybrid(out_dir):
    from transformers import AutoTokenizer, Qwen3_5ForCausalLM, Qwen3_5TextConfig
    import torch
    import agent
    tok = AutoTokenizer.from_pretrained(agent.TOKENIZER_DIR)
    cfg = Qwen3_5TextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=16, vocab_size=len(tok), max_position_embeddings=4096,
                            pad_token_id=tok.pad_token_id, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                            linear_num_value_heads=2, linear_num_key_heads=2, linear_key_head_dim=16,
                            linear_value_head_dim=16)
    assert "linear_attention" in cfg.layer_types
    torch.manual_seed(0)
    Qwen3_5ForCausalLM(cfg).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return os.fspath(out_dir)
