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
    assert tools.dispatch(case, "order_lab", {}, d)[0] == "order_lab: missing required argument(s) ['test']"
    assert tools.dispatch(case, "get_vitals", {}, d)[1] is None
    assert case.actions == [("get_vitals", {})]


# Inputs whose range is the scale itself, from the scale's publication (the others are physiological limits):
PUBLISHED_SCALES = {
    ("calc_gcs", "eye"): (1, 4), ("calc_gcs", "verbal"): (1, 5), ("calc_gcs", "motor"): (1, 6),   # Teasdale 1974
    ("calc_qsofa", "gcs"): (3, 15), ("calc_sofa", "gcs"): (3, 15),                              # GCS total 3-15
    ("assign_triage_level", "level"): (1, 5),                       # ESI v4 Implementation Handbook: levels 1-5
    ("calc_heart_score", "history_suspicion"): (0, 2), ("calc_heart_score", "ecg_findings"): (0, 2),   # Six 2008
    ("calc_bishop", "dilation_cm"): (0, 10), ("calc_bishop", "effacement_pct"): (0, 100),            # Bishop 1964:
    ("calc_bishop", "station"): (-3, 3),                            # cervix 0-10 cm, 0-100 %, station -3..+3
    ("calc_esi", "pain_score"): (0, 10),                            # 0-10 numeric rating scale
    ("calc_news2", "spo2"): (0, 100), ("calc_esi", "spo2"): (0, 100),                           # a percentage
}


def test_scale_inputs_take_exactly_their_published_range_and_the_schema_refuses_the_rest(tasks):
    for (tool, arg), (lo, hi) in PUBLISHED_SCALES.items():
        spec = tools.TOOLS[tool].schema["function"]["parameters"]["properties"][arg]
        assert (spec["minimum"], spec["maximum"]) == (lo, hi), (tool, arg)
    task = next(t for t in tasks if "assign_triage_level" in tools.menu(t["domain"]))
    case = tools.Case(task=task)
    for level, kind in ((0, "schema"), (1, None), (5, None), (6, "schema"), (True, "schema"), (2.0, "schema")):
        result, err = tools.dispatch(case, "assign_triage_level", {"level": level}, task["domain"])
        assert err == kind, (level, result)             # refused by the schema, before the tool runs
    case = tools.Case(task=next(t for t in tasks if "calc_gcs" in tools.menu(t["domain"])))
    assert tools.dispatch(case, "calc_gcs", {"eye": 4, "verbal": 5, "motor": 7}, case.task["domain"])[1] == "schema"


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
            images.write_image(images.render_ecg(beats, p, rng), str(path))
            m = images.measure_ecg(images.read_image(str(path)))
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


def adam7_png16(img):
    """A 16-bit grey, Adam7-interlaced PNG, encoded by hand (Pillow writes neither interlace nor this)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    h, w = img.shape
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)]:
        sub = img[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.astype(">u2").tobytes() for row in sub)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 1)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_images_any_png_or_jpeg_loads_and_foreign_files_are_rejected(tmp_path):
    from PIL import Image
    img = (np.arange(60).reshape(6, 10) * 4).astype(np.uint8)
    images.write_image(img, str(tmp_path / "a.png"))
    assert (images.read_image(str(tmp_path / "a.png")) == img).all()
    deep = (np.arange(13 * 11).reshape(13, 11) * 450).astype(np.uint16)      # odd sizes: every Adam7 pass
    (tmp_path / "i16.png").write_bytes(adam7_png16(deep))
    got = images.read_image(str(tmp_path / "i16.png"))
    assert got.dtype == np.uint8 and (got == np.round(deep / 257).astype(np.uint8)).all()
    rgb = np.stack([np.full((16, 24), 200), np.tile(np.arange(24) * 10, (16, 1)), np.full((16, 24), 30)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "c.jpg", quality=95)
    jpg = images.read_image(str(tmp_path / "c.jpg"))
    assert jpg.shape == (16, 24, 3) and np.abs(jpg.astype(int) - rgb).mean() < 3       # lossy, but close
    Image.fromarray(rgb.astype(np.uint8)).convert("P").save(tmp_path / "p.png")          # palette -> RGB
    assert images.read_image(str(tmp_path / "p.png")).shape == (16, 24, 3)
    (tmp_path / "b.png").write_bytes(b"GIF89a....")
    with pytest.raises(ValueError):
        images.read_image(str(tmp_path / "b.png"))


def test_schemas_agree_with_transformers_get_json_schema():
    """Our derivation and transformers' (type hints -> JSON types, defaults -> optional) give the same
    parameters for every tool, once a stub supplies the per-argument docstring transformers insists on."""
    import inspect
    from transformers.utils import get_json_schema
    for t in tools.TOOLS.values():
        params = list(inspect.signature(t.fn).parameters.values())[1:]

        def stub():
            pass
        stub.__name__ = t.name
        stub.__signature__ = inspect.Signature(params)
        stub.__annotations__ = {p.name: p.annotation for p in params}
        stub.__doc__ = t.schema["function"]["description"] + "\n\nArgs:\n" + "".join(
            f"    {p.name}: the {p.name}\n" for p in params)
        theirs = get_json_schema(stub)["function"]["parameters"]
        ours = t.schema["function"]["parameters"]
        assert {k: v["type"] for k, v in theirs["properties"].items()} == \
            {k: v["type"] for k, v in ours["properties"].items()}, t.name
        assert sorted(theirs.get("required", [])) == sorted(ours["required"]), t.name
