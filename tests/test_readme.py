"""The README stays short and true: its layout names what is at the top level, its forking example runs."""
import os
import re
import subprocess

import torch

import config
import grpo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md")).read()


def test_readme_is_short_and_its_layout_names_every_top_level_entry():
    assert len(README.encode()) < 15_000
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()   # names may hold spaces
    top = {p.split("/")[0] + ("/" if "/" in p else "") for p in tracked} - {"README.md", "requirements.txt",
                                                                               ".gitignore", "DEVELOPERS.md"}
    layout = README.split("## Layout")[1].split("\n## ")[0]
    named = set(re.findall(r"^\| `([^`]+)`", layout, flags=re.M))
    assert top <= named, top - named
    modules = {p for p in top if p.endswith(".py")}
    assert modules == {"env.py", "tools.py", "kb.py", "reward.py", "agent.py", "grpo.py", "ttopd.py", "evaluate.py",
                       "config.py", "warmstart.py"}


def test_the_forking_example_is_a_working_loss_variant(monkeypatch):
    code = re.search(r"```python\n(def loss_cispo.*?)```", README, flags=re.S).group(1)
    monkeypatch.setattr(grpo, "LOSSES", dict(grpo.LOSSES))
    exec(code, vars(grpo))                                    # as if pasted into grpo.py
    cfg = config.load(os.path.join(ROOT, "configs/tiny.yaml"), overrides=["algo.loss=cispo"])
    grpo.check_values(cfg)                                    # the config line is all it takes
    logp = torch.log(torch.tensor([[0.5, 0.4, 0.9], [0.2, 0.6, 0.3]])).requires_grad_(True)
    old = torch.log(torch.tensor([[0.25, 0.4, 0.6], [0.4, 0.5, 0.3]]))
    mask, adv = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]), torch.tensor([1.0, -1.0])
    mb = grpo.MicroBatch([], None, None, mask, logp, old, adv, None, 2, 5.0)
    loss, clipped = grpo.LOSSES["cispo"].loss(mb, cfg.algo)
    # ratios [[2, 1, 1.5], [0.5, 1.2, -]] clipped to [0.8, 1.2]: weights [[1.2, 1, 1.2], [0.8, 1.2]]
    w_logp = 1.2 * logp[0, 0] + logp[0, 1] + 1.2 * logp[0, 2] - 0.8 * logp[1, 0] - 1.2 * logp[1, 1]
    assert abs(loss.item() + float(w_logp) / 5) < 1e-6
    assert clipped.tolist() == [[1, 0, 1], [1, 0, 0]]
    loss.backward()                                           # every token keeps a gradient, clipped ones too
    assert (logp.grad[mask.bool()] != 0).all()
    on = grpo.MicroBatch([], None, None, mask, logp, logp.detach(), adv, None, 2, 5.0)
    g = [torch.autograd.grad(grpo.LOSSES[k].loss(on, cfg.algo)[0], logp)[0] for k in ("cispo", "dapo")]
    torch.testing.assert_close(g[0], g[1])                    # on-policy it is DAPO's gradient


def test_the_walkthroughs_links_point_at_what_they_name():
    """docs/walkthrough.md links each function as [`name` file:line](../file#Lline): the line must define it."""
    import re
    text = open(os.path.join(ROOT, "docs", "walkthrough.md")).read()
    links = re.findall(r"\[`([\w_]+)` ([\w/]+\.py):(\d+)\]\(\.\./([\w/]+\.py)#L(\d+)\)", text)
    assert len(links) > 40
    for name, f, line, target, anchor in links:
        assert (f, line) == (target, anchor)
        code = open(os.path.join(ROOT, f)).read().split("\n")[int(line) - 1].strip()
        assert code.startswith((f"def {name}(", f"class {name}", f"{name} =")) or \
            (name == "__main__" and code.startswith("if __name__")), (f, line, code)
