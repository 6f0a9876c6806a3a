from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.templates import FALLBACKS, MERGE_FIELDS, TemplateError, fields, render, split_name

FULL = {"first_name": "Ann", "last_name": "Lee", "location_name": "Oak St", "staff_name": "Sam"}


def test_render_all_fields() -> None:
    text = "Hi {first_name} {last_name}, this is {staff_name} at {location_name}."
    assert render(text, FULL) == "Hi Ann Lee, this is Sam at Oak St."


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Hi {first_name}!", {}, "Hi there!"),
        ("Hi {first_name}!", {"first_name": None}, "Hi there!"),
        ("Hi {first_name}!", {"first_name": "   "}, "Hi there!"),
        ("Hi {first_name}!", {"first_name": "  Ann  "}, "Hi Ann!"),
        ("Visit {location_name}", {"location_name": ""}, "Visit our store"),
        ("— {staff_name}", {}, "— our team"),
        ("Hi {first_name} {last_name}, welcome", {"first_name": "Ann"}, "Hi Ann, welcome"),
        ("Hi {first_name} {last_name}!", {"first_name": "Ann"}, "Hi Ann!"),
        ("Hi {first_name} {last_name}", {"first_name": "Ann"}, "Hi Ann"),
        ("Dear {last_name} family", {}, "Dear family"),
        ("{last_name} and co", {}, "and co"),
        ("Hi {last_name} {last_name} there", {}, "Hi there"),
        ("Line one {last_name}\nLine two", {}, "Line one\nLine two"),
        ("Hi\n{last_name} Ann", {}, "Hi\nAnn"),
        ("({last_name})", {}, "()"),
        ("Hi  {first_name}", {"first_name": "Ann"}, "Hi  Ann"),  # author's spacing kept
        ("{{first_name}} is a field", FULL, "{first_name} is a field"),
        ("literal }} and {{", {}, "literal } and {"),
        ("{ first_name }", FULL, "Ann"),
        ("no fields", FULL, "no fields"),
        ("", FULL, ""),
        ("Hi {first_name}", {**FULL, "unrelated": "x"}, "Hi Ann"),
    ],
)
def test_render_fallbacks_and_tidying(
    template: str, values: dict[str, str | None], expected: str
) -> None:
    assert render(template, values) == expected


@pytest.mark.parametrize("template", ["Hi {firstname}", "Hi {First_Name}", "{a.b}", "{0}"])
def test_unknown_field(template: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, FULL)
    assert info.value.reason == "unknown_merge_field"
    assert info.value.field in str(info.value)
    assert info.value.field == template[template.index("{") + 1 : template.index("}")]
    assert info.value.position == template.index("{")


@pytest.mark.parametrize(
    ("template", "position"),
    [("Hi {first_name", 3), ("Hi first_name}", 13), ("{}", 0), ("a { } b", 2), ("{{{", 2)],
)
def test_malformed(template: str, position: int) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, FULL)
    assert info.value.reason == "malformed_template"
    assert info.value.position == position
    assert info.value.field is None
    with pytest.raises(TemplateError):
        fields(template)


def test_non_string_template() -> None:
    with pytest.raises(TemplateError) as info:
        render(None, FULL)  # type: ignore[arg-type]
    assert info.value.reason == "malformed_template"


def test_fields() -> None:
    assert fields("Hi {first_name}, {staff_name} here. Bye {first_name}") == [
        "first_name",
        "staff_name",
    ]
    assert fields("{{first_name}}") == []
    with pytest.raises(TemplateError) as info:
        fields("{nope}")
    assert info.value.field == "nope"


def test_fallbacks_cover_every_field() -> None:
    assert set(FALLBACKS) == set(MERGE_FIELDS)
    assert FALLBACKS["first_name"] == "there"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ann Lee", ("Ann", "Lee")),
        ("  Ann   Marie  Lee ", ("Ann", "Marie Lee")),
        ("Ann", ("Ann", "")),
        ("Lee, Ann", ("Ann", "Lee")),
        ("Lee,", ("Lee", "")),
        (", Ann", ("Ann", "")),
        ("Dr. Ann Lee", ("Ann", "Lee")),
        ("mrs ann lee", ("ann", "lee")),
        ("Dr", ("Dr", "")),
        ("", ("", "")),
        ("   ", ("", "")),
        (",", ("", "")),
        (None, ("", "")),
    ],
)
def test_split_name(name: str | None, expected: tuple[str, str]) -> None:
    assert split_name(name) == expected


# --- properties --------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@settings(deadline=None)
@given(st.text(max_size=200))
def test_escaped_text_renders_verbatim(text: str) -> None:
    assert render(_escape(text), FULL) == text
    assert fields(_escape(text)) == []


@settings(deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_templates_render_or_raise_template_error(text: str) -> None:
    try:
        result = render(text, FULL)
    except TemplateError as exc:
        assert exc.reason in {"unknown_merge_field", "malformed_template"}
        assert 0 <= exc.position < len(text)
    else:
        assert isinstance(result, str)


_name = st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=12)


@settings(deadline=None)
@given(st.lists(st.sampled_from(MERGE_FIELDS), max_size=5), _name, _name, _name, _name)
def test_every_field_is_replaced(used: list[str], a: str, b: str, c: str, d: str) -> None:
    values = dict(zip(MERGE_FIELDS, (a, b, c, d), strict=True))
    template = " ".join("{" + f + "}" for f in used)
    assert render(template, values) == " ".join(values[f] for f in used)
    assert fields(template) == list(dict.fromkeys(used))


@settings(deadline=None)
@given(st.text(max_size=60))
def test_split_name_never_raises(name: str) -> None:
    first, last = split_name(name)
    assert first == first.strip()
    assert last == last.strip()
    assert not (not first and last)
