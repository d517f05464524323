"""Image inputs of vision-language models (VLMs) (the Qwen2-VL / Qwen2.5-VL family): loading one, a visual
task's prompt with its image tokens, the forward kwargs that carry the pixels, and the 3-D rotary (M-RoPE)
positions a cached decode needs. A text-only model (the embedded default) never reaches this module; a
vision-language checkpoint's image processor rides on its tokenizer (tok.image_processor), so every caller
that builds prompts can turn a task's image into model inputs.
"""

import torch

PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"     # how Qwen-VL templates show an image


def is_vision_language(path):
    from transformers import AutoConfig
    return hasattr(AutoConfig.from_pretrained(path, local_files_only=True), "vision_config")


def load(path, dtype):
    """(model, image processor) of a vision-language checkpoint."""
    from transformers import AutoImageProcessor, AutoModelForImageTextToText
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True, dtype=dtype)
    return model, AutoImageProcessor.from_pretrained(path, local_files_only=True)


def with_image(tok, ids, image_file):
    """(ids, image inputs): the prompt's one <|image_pad|> widened to the image's token count, and
    {pixel_values, image_grid_thw} from the checkpoint's image processor."""
    from clinic import images
    proc = tok.image_processor
    img = images.read_image(image_file)
    if img.ndim == 2:                   # grey ECG strips: the processors expect RGB
        img = img[:, :, None].repeat(3, axis=2)
    enc = proc(images=[img], return_tensors="pt")
    pad = tok.convert_tokens_to_ids("<|image_pad|>")
    n = int(enc["image_grid_thw"].prod()) // proc.merge_size ** 2    # one token per merged patch
    k = ids.index(pad)
    return ids[:k] + [pad] * n + ids[k + 1:], {"pixel_values": enc["pixel_values"],
                                                 "image_grid_thw": enc["image_grid_thw"]}


def forward_kwargs(tok, trajs, ids):
    """Forward kwargs carrying the images of a padded batch's rows (rows in order); {} when it has none."""
    vs = [t.vision for t in trajs if t.vision]
    if not vs:
        return {}
    pad = tok.convert_tokens_to_ids("<|image_pad|>")
    return {"pixel_values": torch.cat([v["pixel_values"] for v in vs]).to(ids.device),
            "image_grid_thw": torch.cat([v["image_grid_thw"] for v in vs]).to(ids.device),
            "mm_token_type_ids": (ids == pad).int()}


def rope_positions(model, ids, start, n_new, positions, vision, pos):
    """M-RoPE for a cache's feed: (3, rows, width) positions, image rows from the model's own
    get_rope_index; each image row's next text position is its largest position + 1, not its token count
    (the returned shift). Returns (positions, shift, forward kwargs with the pixels)."""
    pos3 = positions[None].repeat(3, 1, 1)
    shift = torch.zeros_like(pos)
    rows = [r for r, v in enumerate(vision) if v is not None]
    for r in rows:
        assert pos[r] == 0, "image inputs go with a row's first tokens"
        a, b = int(start[r]), int(start[r] + n_new[r])
        row = ids[r:r + 1, a:b]
        grid = vision[r]["image_grid_thw"].to(ids.device)
        is_image = (row == model.config.image_token_id).int()
        p, delta = model.model.get_rope_index(row, mm_token_type_ids=is_image, image_grid_thw=grid)
        pos3[:, r, a:b] = p[:, 0]
        shift[r] = int(delta.reshape(-1)[0])
    extra = {"pixel_values": torch.cat([vision[r]["pixel_values"] for r in rows]).to(ids.device),
             "image_grid_thw": torch.cat([vision[r]["image_grid_thw"] for r in rows]).to(ids.device)}
    return pos3, shift, extra
