"""Train on the GYM with TRL's GRPOTrainer: the embedded tiny model (or a local checkpoint), every domain's
environment (integrations/trl_env.py), the env's 5D reward as the only reward.

  pip install trl==1.16.0
  python integrations/train_trl.py [--steps 2] [--model CHECKPOINT_DIR] [--tasks 64] [--out runs/trl]
                                  [--server http://HOST:PORT]     # episodes on an environment server

The embedded tokenizer is given TRL's Qwen3 chat template, the layout a Qwen3 checkpoint brings, so that TRL
renders the tool schemas and parses <tool_call> blocks as it does for Qwen3 (set_qwen3_template). A real
checkpoint keeps its own template; TRL recognises the Qwen, Llama and GPT-OSS ones.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import agent  # noqa: E402
import config  # noqa: E402
from integrations import trl_env  # noqa: E402


def set_qwen3_template(tok):
    """The tokenizer with TRL's copy of the Qwen3 chat template and its tool-call parser."""
    from trl.chat_template_utils import add_response_schema, qwen3_chat_template
    tok.chat_template = qwen3_chat_template
    return add_response_schema(tok)


def trainer_for(model, tok, rows, out_dir, steps, max_turns=8, generations=4, max_completion_length=256,
                factories=None, server_url=None, **grpo_config):
    """A GRPOTrainer on these dataset rows, rewarded by the environments alone (factories: {domain: class},
    default every domain's trl_env class; grpo_config: more GRPOConfig fields)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    args = GRPOConfig(output_dir=out_dir, max_steps=steps, per_device_train_batch_size=generations,
                      num_generations=generations, max_completion_length=max_completion_length,
                      learning_rate=1e-5, logging_steps=1, save_strategy="no", report_to="none",
                      use_cpu=not model.device.type == "cuda", bf16=False, seed=0,
                      gradient_checkpointing=False, **grpo_config)
    return GRPOTrainer(model=model, processing_class=tok, args=args, train_dataset=Dataset.from_list(rows),
                       environment_factory=factories or trl_env.environment_factories(
                           max_turns=max_turns, server_url=server_url))


def main(argv):
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--model", default="", help="a local checkpoint (default: the embedded tiny Qwen3)")
    ap.add_argument("--tasks", type=int, default=64, help="a seeded sample of this many train tasks")
    ap.add_argument("--out", default="runs/trl")
    ap.add_argument("--server", default=None, help="play the episodes on this environment server "
                                                   "(python -m integrations.server)")
    a = ap.parse_args(argv)
    model, tok = agent.load_policy(config.ModelConfig(path=a.model))
    if not a.model:
        tok = set_qwen3_template(tok)
    trainer = trainer_for(model, tok, trl_env.dataset_rows("train", n=a.tasks), a.out, a.steps,
                          server_url=a.server)
    trainer.train()
    for row in trainer.state.log_history:
        print({k: v for k, v in row.items() if "reward" in k or k == "step"})


if __name__ == "__main__":
    main(sys.argv[1:])
