"""Vision-language checkpoints: a tiny random Qwen2-VL (tests/tiny_models.py) gets the visual tasks' images through
its image processor, in rollouts (KV-cached, M-RoPE positions), re-scoring, the expert and a GRPO step."""
import dataclasses

import pytest
import torch

pytest.importorskip("PIL")      # the image processors need Pillow (requirements.txt)
import agent  # noqa: E402
import config  # noqa: E402
import grpo  # noqa: E402
from distributed import fsdp  # noqa: E402
from clinic import bank  # noqa: E402
from decoding import vlm as vlm_inputs  # noqa: E402
import warmstart  # noqa: E402
from tiny_models import make_tiny_vlm  # noqa: E402


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    cfg = config.load("configs/tiny.yaml", config.Config)
    path = make_tiny_vlm(tmp_path_factory.mktemp("tiny_vlm"))
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, path=path), init_checkpoint="")
    cfg.rollout = dataclasses.replace(cfg.rollout, max_new_tokens=24, max_turns=3, batch_size=4)
    model, tok = agent.load_policy(cfg.model)
    return cfg, model, tok


@pytest.fixture(scope="module")
def tasks():
    ts = bank.load_tasks(split="validation")
    return [t for t in ts if t["image"]][:3] + [ts[0]]          # ECG strips, a lesion, and a text-only case


def test_images_go_through_the_processor_into_the_prompt(vlm, tasks):
    cfg, model, tok = vlm
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration" and tok.image_processor is not None
    pad = tok.convert_tokens_to_ids("<|image_pad|>")
    for t in tasks:
        tr = warmstart.expert_trajectory(tok, t, cfg.rollout)
        if t["image"]:
            n = int(tr.vision["image_grid_thw"].prod()) // 4               # 2 x 2 patches merge into one token
            assert tr.ids.count(pad) == n > 0 and tr.vision["pixel_values"].shape[0] == 4 * n
        else:
            assert tr.vision is None and pad not in tr.ids


def test_vlm_rollout_logprobs_are_reproduced_by_a_full_forward_with_the_image(vlm, tasks):
    cfg, model, tok = vlm
    trajs = agent.rollout(model, tok, tasks, cfg.rollout, seed=0, progress=False)
    for tr in trajs:
        lp = agent.score_logprobs(model, tr.ids, cfg.rollout.temperature, tok, tr)
        m = torch.tensor(tr.mask, dtype=torch.bool)
        assert m.any()
        torch.testing.assert_close(lp[m], torch.tensor(tr.logprobs)[m], atol=2e-5, rtol=0)
    again = agent.rollout(model, tok, tasks, dataclasses.replace(cfg.rollout, reuse_cache=False), seed=0,
                          progress=False)
    assert [t.ids for t in again] == [t.ids for t in trajs]


def test_the_pixels_change_what_the_model_predicts(vlm, tasks):
    cfg, model, tok = vlm
    tr = warmstart.expert_trajectory(tok, tasks[0], cfg.rollout)
    x = torch.tensor([tr.ids])
    kw = vlm_inputs.forward_kwargs(tok, [tr], x)
    with torch.no_grad():
        a = model(input_ids=x, **kw).logits[0, -1]
        b = model(input_ids=x, **{**kw, "pixel_values": torch.zeros_like(kw["pixel_values"])}).logits[0, -1]
    assert (a - b).abs().max() > 1e-4


def test_a_grpo_step_trains_the_vision_tower_too(vlm, tasks, process_group):
    cfg, model, tok = vlm
    rank, world, device = process_group
    policy = agent.load_policy(cfg.model)[0]
    before = {n: p.detach().clone() for n, p in policy.named_parameters() if ".visual." in f".{n}"}
    policy = fsdp.shard(policy, device, False, False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2)
    trajs = agent.rollout(model, tok, tasks[:2] * 2, cfg.rollout, seed=0, progress=False)
    stats = grpo.train_step(cfg, policy, None, opt, trajs, torch.tensor([1.0, -1.0, -1.0, 1.0]), tok, device)
    assert torch.isfinite(torch.tensor(stats["loss"])) and stats["grad_norm"] > 0
    after = dict(fsdp.full_state(policy))
    assert before and any(not torch.equal(after[n], p) for n, p in before.items())
