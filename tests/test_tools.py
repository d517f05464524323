"""Tool registry: counts, schemas, dispatch errors, record revealing, image tools."""
import collections

import numpy as np
import pytest

from clinic import domains

from clinic import images
from clinic import knowledge as K
import tools


def test_at_least_135_tools_of_four_kinds_and_every_domain_has_a_menu():
    assert len(tools.TOOLS) >= 135
    kinds = collections.Counter(t.kind for t in tools.TOOLS.values())
    assert set(kinds) == set(tools.KINDS)
    assert sum(n.startswith("calc_") for n in tools.TOOLS) == 22
    for d in domains.names():
        m = tools.menu(d)
        assert "submit_answer" in m and "search_knowledge_base" in m and len(m) >= 20
    assert all(any(n in tools.menu(d) for d in domains.names()) for n in tools.TOOLS)


def test_schema_is_derived_from_signature():
    s = tools.TOOLS["convert_units"].schema["function"]
    assert s["parameters"]["properties"]["value"] == {"type": "number", "minimum": -1000, "maximum": 100000}
    assert s["parameters"]["required"] == ["value", "from_unit", "to_unit", "quantity"]
    assert "case" not in s["parameters"]["properties"]
    calc = tools.TOOLS["calc_gcs"].schema["function"]["parameters"]
    assert calc["required"] == [] and set(calc["properties"]) == {"eye", "verbal", "motor"}


def test_dispatch_error_kinds(tasks):
    case = tools.Case(task=tasks[0])
    d = tasks[0]["domain"]
    assert tools.dispatch(case, "nope", {}, d)[1] == "phantom_tool"
    assert tools.dispatch(case, "calc_apgar", {}, d)[1] == "off_menu"
    assert tools.dispatch(case, "order_lab", {"test": 3}, d)[1] == "schema"
    assert tools.dispatch(case, "order_lab", {"test": "troponin", "x": 1}, d)[1] == "schema"
    assert tools.dispatch(case, "order_lab", {"test": "unicorn"}, d)[1] == "execution"
    assert tools.dispatch(case, "get_vitals", {}, d)[1] is None
    assert case.actions == [("get_vitals", {})]


def test_scores_read_only_revealed_record(tasks):
    t = next(t for t in tasks if t["domain"] == "triage_emergency" and "calc_news2" in
             [c["name"] for c in t["expected_tools"]])
    case = tools.Case(task=t)
    result, err = tools.dispatch(case, "calc_news2", {}, t["domain"])
    assert err == "execution" and "reveal it first" in result
    tools.dispatch(case, "get_vitals", {}, t["domain"])
    tools.dispatch(case, "get_history", {}, t["domain"])
    result, err = tools.dispatch(case, "calc_news2", {}, t["domain"])
    assert err is None and result["value"] == t["answer"]["value"]
    # an argument overrides the record
    result, _ = tools.dispatch(case, "calc_news2", {"consciousness": "U"}, t["domain"])
    assert result["inputs"]["consciousness"] == "U"


def test_image_tools_measure_what_was_rendered(tmp_path):
    rng = np.random.default_rng(3)
    for rhythm, ((lo, hi), regular, p, _) in K.ECG_RHYTHMS.items():
        for _ in range(10):
            rate = int(rng.integers(lo, hi + 1))
            beats = images.ecg_beat_times(rate, regular, rng)
            path = tmp_path / "e.png"
            path.write_bytes(images.png_bytes(images.render_ecg(beats, p, rng)))
            m = images.measure_ecg(images.read_png(str(path)))
            assert m["r_peaks"] == len(beats)
            assert (m["p_waves"] == m["beats_assessed_for_p"]) if p else m["p_waves"] == 0
            if regular:
                assert abs(m["rate_bpm"] - rate) <= 2
            else:
                assert m["rr_variation"] > 0.08
    for diameter, a, b, n in [(4, 0, 0, 1), (10, 1, 0, 2), (5, 0, 1, 3), (9, 1, 1, 4), (3.5, 1, 1, 1)]:
        m = images.measure_lesion(images.render_lesion(diameter, a, b, n, rng))
        f = images.lesion_features(m)
        assert (f["asymmetry"], f["border"], m["colours"], f["diameter"]) == (bool(a), bool(b), n, diameter > 6)


def test_png_roundtrip_rejects_foreign_files(tmp_path):
    img = (np.arange(60).reshape(6, 10) * 4).astype(np.uint8)
    p = tmp_path / "a.png"
    p.write_bytes(images.png_bytes(img))
    assert (images.read_png(str(p)) == img).all()
    (tmp_path / "b.png").write_bytes(b"GIF89a....")
    with pytest.raises(ValueError):
        images.read_png(str(tmp_path / "b.png"))
