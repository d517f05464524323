"""config.py: YAML -> dataclasses, every key documented, bad keys and types named in the error."""
import dataclasses

import pytest

import grpo
import config


def test_shipped_config_loads():
    c = config.load("configs/tiny.yaml", config.Config)
    assert c.rollout.max_turns == 8 and c.warm_start.expert_max_turns == 5 and c.model.path == ""


@pytest.mark.parametrize("name", ["grpo", "dapo", "dr_grpo", "gspo", "ttopd", "ttopd_tiny"])
def test_every_shipped_training_config_loads_and_passes_the_value_checks(name):
    import ttopd
    cls = ttopd.TTOPDConfig if name.startswith("ttopd") else config.Config
    c = config.load(f"configs/{name}.yaml", cls)
    grpo.check_values(c)
    assert c.algo.loss in grpo.LOSSES


def test_unknown_and_mistyped_keys_are_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("rollout:\n  temprature: 0.7\n")
    with pytest.raises(config.ConfigError, match="rollout.temprature"):
        config.load(str(p), config.Config)
    p.write_text("rollout:\n  max_turns: five\n")
    with pytest.raises(config.ConfigError, match="rollout.max_turns"):
        config.load(str(p), config.Config)
    p.write_text("model: 3\n")
    with pytest.raises(config.ConfigError, match="model"):
        config.load(str(p), config.Config)


def test_every_key_is_documented_and_defaults_are_fresh():
    lines = config.describe(config.Config)
    assert len(lines) > 15 and all(line.split(": ", 1)[1] for line in lines)
    a, b = config.Config(), config.Config()
    a.rollout.max_turns = 99
    assert b.rollout.max_turns == 5
    assert config.from_dict(config.Config, {"rollout": {"temperature": 1}}).rollout.temperature == 1.0
    assert dataclasses.asdict(a)["rollout"]["max_turns"] == 99


def test_exponent_floats_without_a_dot_are_read_as_numbers():
    # YAML 1.1 (PyYAML) resolves "1e-4" to a string; an lr written that way must still load, and a word must not
    c = config.load("configs/tiny.yaml", config.Config, ["lr=1e-4", "algo.clip_high=3E-4"])
    assert c.lr == 1e-4 and c.algo.clip_high == 3e-4
    with pytest.raises(config.ConfigError, match="'lr' must be float"):
        config.load("configs/tiny.yaml", config.Config, ["lr=fast"])


def test_a_ttopd_yaml_serves_the_entry_points_that_do_not_train(tmp_path, capsys):
    """Issue 20, bug 2: warmstart.py and evaluate.py load any training YAML; they skip the sections they do not
    use (naming them) and still reject a typo inside the sections they do use."""
    import evaluate
    c = config.load("configs/ttopd_tiny.yaml", config.Config, ignore_sections=True)
    assert c.rollout.max_turns == 8 and "section 'distill'" in capsys.readouterr().err
    p = tmp_path / "typo.yaml"
    p.write_text(open("configs/ttopd_tiny.yaml").read().replace("max_turns:", "max_turn:"))
    with pytest.raises(config.ConfigError, match="rollout.max_turn"):
        config.load(str(p), config.Config, ignore_sections=True)
    evaluate.main(["configs/ttopd_tiny.yaml", "--split", "validation", "--modes", "agent", "--per-domain", "1",
                   "--out", str(tmp_path / "eval"), "rollout.max_new_tokens=8", "rollout.max_turns=1",
                   "warm_start.out_dir=none"])
    assert "| agent | all domains | 10 |" in open(tmp_path / "eval" / "eval.md").read()


@pytest.mark.parametrize("name", ["grpo", "dapo", "dr_grpo", "gspo", "ttopd"])
def test_paper_scale_configs_have_the_papers_budgets_and_fit_8_h100s(name):
    """Issue 20, bugs 3 and 4: at least 7 turns, room for 12,288 policy tokens, distillation at every turn; and
    benchmarks/scale_check.py's plan for Qwen3.5-9B on 8 x 80 GB says it fits."""
    import sys
    import ttopd
    sys.path.insert(0, "benchmarks")
    import scale_check
    c = config.load(f"configs/{name}.yaml", ttopd.TTOPDConfig)
    assert c.rollout.max_turns >= 7 and c.algo.max_policy_tokens == 12288
    assert c.rollout.max_total_tokens >= c.algo.max_policy_tokens + 4096
    assert c.rollout.max_turns * c.rollout.max_new_tokens >= c.algo.max_policy_tokens
    if name == "ttopd":
        assert c.distill.max_kl_turns in (0, c.rollout.max_turns)     # 0: every turn
    shape = scale_check.model_shape("configs/qwen3.5_9b.json", 0)
    total = sum(b for _, b, _ in scale_check.budget(c, shape, 8, name == "ttopd"))
    assert total < 79.19 * 2 ** 30


def test_base_key_merges_a_file_over_its_base(tmp_path):
    (tmp_path / "a.yaml").write_text("steps: 5\nalgo: {loss: dapo, group_size: 3}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nalgo: {group_size: 6}\nlr: 0.01\n")
    c = config.load(str(tmp_path / "b.yaml"))
    assert (c.steps, c.algo.loss, c.algo.group_size, c.lr) == (5, "dapo", 6, 0.01)
    (tmp_path / "c.yaml").write_text("base: a.yaml\nalgo: {grup_size: 6}\n")
    with pytest.raises(config.ConfigError, match="algo.grup_size"):
        config.load(str(tmp_path / "c.yaml"))


def test_failure_mode_ablations_change_only_their_switches():
    import ttopd
    base = config.load("configs/ablations/guarded.yaml", ttopd.TTOPDConfig)
    assert base.steps >= 60 and base.distill.corruption_guard and not base.distill.reengage
    changed = {}
    for name in ("v29_corruption", "v30_frozen_gap", "v31_reengage"):
        c = config.load(f"configs/ablations/{name}.yaml", ttopd.TTOPDConfig)
        assert dataclasses.replace(c, distill=base.distill, out_dir=base.out_dir) == base
        changed[name] = {k for k, v in dataclasses.asdict(c.distill).items() if getattr(base.distill, k) != v}
    assert "corruption_guard" in changed["v29_corruption"] and "reengage" not in changed["v29_corruption"]
    assert {"teacher", "schedule"} <= changed["v30_frozen_gap"]
    assert "reengage" in changed["v31_reengage"]
