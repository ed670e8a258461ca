"""The declarative transforms of the field mapping."""

from __future__ import annotations

from cfs_spiders.records.mapping import compile_mapping, compile_spec, get_path


def test_shorthand_and_dotted_paths():
    raw = {"a": "x", "p": {"coordinates": [-122.3, 47.6]}, "blank": "  "}
    assert compile_spec("a")(raw) == "x"
    assert compile_spec("p.coordinates.1")(raw) == 47.6
    assert compile_spec("blank")(raw) is None
    assert compile_spec("missing")(raw) is None
    assert get_path(raw, "p.coordinates.5") is None


def test_join_skips_blanks():
    spec = {"fields": ["block", "location"], "join": " "}
    assert compile_spec(spec)({"block": "3000", "location": "E Illinois Ave"}) == (
        "3000 E Illinois Ave"
    )
    assert compile_spec(spec)({"block": "", "location": "A / B"}) == "A / B"


def test_first_of_and_fallback():
    spec = {"field": ["incident_number", "Incident Number"]}
    assert compile_spec(spec)({"Incident Number": "F1"}) == "F1"
    spec = {
        "field": "content",
        "steps": [{"html_dl": "ID:"}],
        "fallback": {"field": "id", "steps": [{"regex": r"/(\w+)$"}]},
    }
    assert compile_spec(spec)({"content": "", "id": "tag:x/PP17"}) == "PP17"


def test_steps():
    run = lambda steps, v: compile_spec({"field": "v", "steps": steps})({"v": v})  # noqa: E731
    assert run([{"regex": r"^\s*(\S+)\s+-\s"}], "38 - Meet Complainant") == "38"
    assert run([{"regex": "nomatch(x)"}], "abc") is None
    assert run([{"split": " ", "index": 1}], "45.59 -122.75") == "-122.75"
    assert run([{"map": {"F": "Fire/EMS"}}], "f") == "Fire/EMS"
    assert run([{"map": {"F": "Fire/EMS"}}], "Q") == "Q"
    assert run([{"map": {"F": "Fire"}, "default": None}], "Q") is None
    assert run([{"null_if": ["null", "N/A"]}], "null") is None
    assert run([{"scale": 0.001}], "1500") == 1.5
    # the decimal the source implies, not binary float arithmetic's neighbour
    assert 29561602 * 1e-6 == 29.561601999999997
    assert repr(run([{"scale": 1e-6}], 29561602)) == "29.561602"
    assert repr(run([{"scale": 1e-6}], "-95123456")) == "-95.123456"
    assert repr(run([{"scale": 0.000001}], "29561602.0")) == "29.561602"
    assert repr(run([{"scale": 1e-7}], 295616021)) == "29.5616021"
    assert run([{"scale": 1e-6}], "north") is None
    assert run([{"scale": 1e-6}], True) is None
    assert run([{"replace": ["\\", "/"]}], "A \\ B") == "A / B"
    assert run([{"count": " "}], "A26 L10 M10") == 3
    assert run(["upper", "strip"], " ab ") == "AB"
    assert run(["html_text"], "<b>A &amp; B</b>") == "A & B"
    escaped = (
        "&lt;dl&gt;&lt;dt&gt;Address:&lt;/dt&gt;&lt;dd&gt;1 A ST&lt;/dd&gt;&lt;/dl&gt;"
    )
    assert run([{"html_dl": "Address:"}], escaped) == "1 A ST"
    assert run([{"template": "{} BLOCK"}], "900") == "900 BLOCK"


def test_areas_become_typed_fields():
    getters = compile_mapping({"area": {"beat": "b", "division": "d"}, "call_id": "i"})
    assert set(getters) == {"area_beat", "area_division", "call_id"}
