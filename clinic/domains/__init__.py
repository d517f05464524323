"""The clinical domains, each declared in one file of this folder.

A domain file defines `DOMAIN = Domain(name, generate, ...)`: its task generator, the tools on its
menu (besides the tools every domain has), the answer types and the safety-constraint kinds its tasks
use. Adding a domain is adding one file here: the bank generator (clinic/taskgen.py), the tool menus
(tools.menu), the env and the evaluation tables pick it up from `all_domains()`. The ten domains of the
paper come first, in the order below; any other file follows, by name.
"""
import dataclasses
import importlib
import pkgutil

ORDER = ("clinical_diagnosis", "drug_interaction", "ehr_management", "medical_qa", "triage_emergency",
         "psychiatry", "obstetrics", "visual_diagnosis", "radiology_report", "cross_domain")
ANSWER_TYPES = ("choice", "label", "number", "yesno", "text")
SAFETY_KINDS = ("forbidden_call", "forbidden_answer", "must_call")


@dataclasses.dataclass(frozen=True)
class Domain:
    name: str
    generate: callable              # (rng, i) -> task dict, or (rng, i, image_dir) with makes_images
    answer_types: tuple             # the answer types its tasks use (ANSWER_TYPES)
    safety: tuple = ()              # the safety-constraint kinds its tasks carry (SAFETY_KINDS)
    tools: tuple = ()               # its menu, besides the tools every domain has
    makes_images: bool = False      # generate writes image files (it gets the image directory)

    def __post_init__(self):
        bad = set(self.answer_types) - set(ANSWER_TYPES) or set(self.safety) - set(SAFETY_KINDS)
        if bad:
            raise ValueError(f"domain {self.name}: unknown answer type or safety kind {sorted(bad)}")


_LOADED = {}


def all_domains():
    """name -> Domain for every file in this folder (imported once; files added later are found too)."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    for name in names:
        if name not in _LOADED:
            domain = importlib.import_module(f"{__name__}.{name}").DOMAIN
            if domain.name != name:
                raise ValueError(f"clinic/domains/{name}.py declares a domain named {domain.name!r}")
            _LOADED[name] = domain
    order = [n for n in ORDER if n in _LOADED] + sorted(n for n in _LOADED if n not in ORDER)
    return {n: _LOADED[n] for n in order}


def names():
    return list(all_domains())
