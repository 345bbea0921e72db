import pytest

from feature_gateway.domain.tags import (
    MAX_TAGS,
    TAG_FILTER_PORTABLE_PATTERN,
    TAG_KEY_PORTABLE_PATTERN,
    TagFilterSyntaxError,
    is_valid_tag_key,
    parse_tag_filter,
    tag_filter_problems,
    tag_problems,
)


@pytest.mark.parametrize("key", ["a", "team", "pii.level", "cost-center", "x_1", "a" * 63])
def test_lower_case_keys_of_up_to_63_characters_are_valid(key):
    assert is_valid_tag_key(key)
    assert tag_problems({key: "v"}) == {}


@pytest.mark.parametrize("key", ["", "Team", "1team", "_x", "a" * 64, "a b", "é", "team\n", 7])
def test_other_keys_are_invalid(key):
    assert not is_valid_tag_key(key)
    assert set(tag_problems({key: "v"})) == {str(key)}


def test_the_portable_pattern_states_the_same_key_rule():
    import re

    portable = re.compile(TAG_KEY_PORTABLE_PATTERN)
    for key in ["a", "pii.level", "a" * 63, "Team", "a" * 64, "1x", ""]:
        assert bool(portable.search(key)) == is_valid_tag_key(key), key


@pytest.mark.parametrize("value", ["", "search", "x" * 255, "ünïcode: yes, with commas"])
def test_values_are_strings_of_up_to_255_characters(value):
    assert tag_problems({"k": value}) == {}


@pytest.mark.parametrize("value", ["x" * 256, "a\x00b", 3, None, ["a"], True])
def test_long_nul_and_non_string_values_are_refused(value):
    problems = tag_problems({"k": value})
    assert list(problems) == ["k"]
    assert "Invalid value for tag 'k'" in problems["k"]


def test_at_most_twenty_tags():
    assert tag_problems({f"k{i}": "v" for i in range(MAX_TAGS)}) == {}
    problems = tag_problems({f"k{i}": "v" for i in range(MAX_TAGS + 1)})
    assert problems == {"_count": "At most 20 tags; got 21."}


def test_a_filter_may_ask_for_a_key_without_a_value_but_a_tag_has_one():
    assert tag_filter_problems([("pii", None)]) == []
    assert "pii" in tag_problems({"pii": None})


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("team:search", (("team", "search"),)),
        ("team:search,tier:gold", (("team", "search"), ("tier", "gold"))),
        ("pii", (("pii", None),)),
        ("team:search,pii", (("team", "search"), ("pii", None))),
        ("url:http://x:8080/y", (("url", "http://x:8080/y"),)),
        ("empty:", (("empty", ""),)),
        ("team:a,team:b", (("team", "a"), ("team", "b"))),
    ],
)
def test_get_tag_filters_split_pairs_at_commas_and_key_from_value_at_the_first_colon(text, wanted):
    assert parse_tag_filter(text) == wanted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Invalid tag key ''"),
        ("team:search,", "Invalid tag key ''"),
        (",team", "Invalid tag key ''"),
        ("Team:x", "Invalid tag key 'Team'"),
        (":x", "Invalid tag key ''"),
        ("team:" + "x" * 256, "Longer than 255 characters"),
        ("team:a\x00", "Contains NUL"),
        (",".join(f"k{i}" for i in range(21)), "At most 20 tag pairs; got 21."),
    ],
)
def test_malformed_get_tag_filters_are_refused_with_a_reason(text, message):
    with pytest.raises(TagFilterSyntaxError, match=message):
        parse_tag_filter(text)


@pytest.mark.parametrize(
    "text",
    ["a", "team:x,pii", "k:" + "v" * 255, ",".join(f"k{i}" for i in range(20)), "u:a:b",
     "", "A", "a,", "k:" + "v" * 256, ",".join(f"k{i}" for i in range(21)), "a:\x00", "a:b,c"],
)  # fmt: skip
def test_the_portable_filter_pattern_accepts_exactly_what_the_parser_accepts(text):
    import re

    try:
        parse_tag_filter(text)
        accepted = True
    except TagFilterSyntaxError:
        accepted = False
    assert bool(re.search(TAG_FILTER_PORTABLE_PATTERN, text)) == accepted
