"""Tests for domain.identifiers: GB 32100-2015 (USCC), GB 11714 (organization code), GB 11643-1999 (ID)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

from domain.identifiers import (
    InvalidIdentifier,
    _org_code_check,
    _uscc_check,
    id_number_birth_date,
    looks_like_id_number,
    make_id_number,
    make_uscc,
    mask_id_number,
    normalize,
    uscc_with_check,
    validate_id_number,
    validate_uscc,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
AUTHORITIES = "123456789ANY"
TODAY = datetime.date(2024, 6, 15)
# Example from python-stdnum's documentation: a real code with authority 9 and organization code 60003734-1.
STDNUM_EXAMPLE_USCC = "91110000600037341L"
# Example from GB 11643-1999 itself (born 1949-12-31, check digit X).
GB_EXAMPLE_ID = "11010519491231002X"

# No example database: nothing is written into the working tree, and runs stay reproducible by seed.
modest = settings(max_examples=150, database=None, deadline=None)

usccs_parts = st.tuples(
    st.sampled_from(AUTHORITIES),
    st.sampled_from(ALPHABET),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=ALPHABET, min_size=8, max_size=8),
)
regions = st.text(alphabet="0123456789", min_size=6, max_size=6)
birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


def uscc_reason(value: str) -> str:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_uscc(value)
    assert caught.value.kind == "uscc"
    return caught.value.reason


def id_reason(value: str, today: datetime.date = TODAY) -> str:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_id_number(value, today=today)
    assert caught.value.kind == "id_number"
    return caught.value.reason


def replace_at(value: str, index: int, char: str) -> str:
    return value[:index] + char + value[index + 1 :]


def independent_uscc_check(first17: str) -> str:
    """GB 32100-2015 position 18, written out from the standard's table to cross-check stdnum."""
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, weights, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def independent_org_code_check(body: str) -> str:
    """GB 11714 check character, the weighted sum of the standard written out."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


def independent_id_check(first17: str) -> str:
    """GB 11643-1999 check digit, weights 2^(17-i) mod 11, to cross-check stdnum's base-13 shortcut."""
    total = sum(int(ch) * (2 ** (17 - i) % 11) for i, ch in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


# --- Unified social credit code ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authority", "org_type", "region", "body"),
    [
        ("9", "1", "110108", "55138508"),  # company registered with market regulation (工商)
        ("1", "1", "100000", "00001300"),  # government body (机构编制)
        ("5", "1", "440300", "MJL12345"),  # social organization (民政)
        ("N", "2", "320582", "MF1234AB"),  # village collective economic organization (农业农村)
        ("A", "1", "110000", "12345678"),  # military establishment office
        ("Y", "1", "110000", "MA0123CD"),  # other authorities (其他)
    ],
)
def test_real_world_shaped_codes_are_accepted(authority: str, org_type: str, region: str, body: str) -> None:
    code = make_uscc(authority, org_type, region, body)
    assert len(code) == 18
    assert code.startswith(authority + org_type + region + body)
    assert validate_uscc(code) == code


def test_stdnum_documented_real_code_is_accepted() -> None:
    assert validate_uscc(STDNUM_EXAMPLE_USCC) == STDNUM_EXAMPLE_USCC


@pytest.mark.parametrize("authority", ["N", "A", "Y"])
def test_uscc_beginning_with_N_A_or_Y_is_accepted_although_stdnum_rejects_it(authority: str) -> None:
    code = make_uscc(authority, "1", "320582", "MA1Q2W3E")
    assert not _uscc.is_valid(code)
    assert validate_uscc(code) == code


def test_uscc_is_normalized_from_spaces_hyphens_and_lower_case() -> None:
    typed = " 9111-0000 600037341l\t"
    assert validate_uscc(typed) == STDNUM_EXAMPLE_USCC


def test_uscc_of_wrong_length_is_rejected() -> None:
    assert uscc_reason(STDNUM_EXAMPLE_USCC[:17]) == uscc_reason(STDNUM_EXAMPLE_USCC + "0")
    assert "18 characters" in uscc_reason(STDNUM_EXAMPLE_USCC[:17])


@pytest.mark.parametrize("bad_char", ["I", "O", "Z", "S", "V", "*", "中"])
def test_uscc_with_a_character_outside_the_alphabet_is_rejected(bad_char: str) -> None:
    reason = uscc_reason(replace_at(STDNUM_EXAMPLE_USCC, 10, bad_char))
    assert "may only contain" in reason


@pytest.mark.parametrize("authority", ["0", "B", "G", "X"])
def test_uscc_with_unknown_registration_authority_is_rejected(authority: str) -> None:
    code = uscc_with_check(authority + STDNUM_EXAMPLE_USCC[1:17])
    assert "registration authority" in uscc_reason(code)


def test_uscc_whose_region_is_not_six_digits_is_rejected() -> None:
    code = uscc_with_check("9111A000600037341")
    assert "region" in uscc_reason(code)


def test_uscc_with_wrong_organization_code_check_is_rejected_even_when_position_18_is_right() -> None:
    broken = uscc_with_check(replace_at(STDNUM_EXAMPLE_USCC[:17], 16, "2"))
    # Position 18 is right for the broken prefix, so stdnum (which ignores position 17) accepts it.
    assert _uscc.is_valid(broken)
    assert "organization code" in uscc_reason(broken)


def test_uscc_with_a_letter_other_than_x_as_organization_check_is_rejected() -> None:
    broken = uscc_with_check(replace_at(STDNUM_EXAMPLE_USCC[:17], 16, "A"))
    assert "organization code" in uscc_reason(broken)


@pytest.mark.parametrize(("body", "check"), [("60003734", "1"), ("00000006", "X"), ("00000000", "0")])
def test_organization_code_check_follows_gb_11714_including_x_and_zero(body: str, check: str) -> None:
    code = make_uscc("9", "1", "110000", body)
    assert code[16] == check


def test_uscc_with_wrong_check_character_is_rejected() -> None:
    broken = replace_at(STDNUM_EXAMPLE_USCC, 17, "M")
    assert "character 18" in uscc_reason(broken)


def test_uscc_failure_reasons_are_distinct_and_never_echo_the_code() -> None:
    failing = [
        STDNUM_EXAMPLE_USCC[:17],
        replace_at(STDNUM_EXAMPLE_USCC, 10, "O"),
        uscc_with_check("B" + STDNUM_EXAMPLE_USCC[1:17]),
        uscc_with_check("9111A000600037341"),
        uscc_with_check(replace_at(STDNUM_EXAMPLE_USCC[:17], 16, "2")),
        replace_at(STDNUM_EXAMPLE_USCC, 17, "M"),
    ]
    reasons = []
    for value in failing:
        with pytest.raises(InvalidIdentifier) as caught:
            validate_uscc(value)
        assert value not in str(caught.value)
        assert value not in caught.value.reason
        reasons.append(caught.value.reason)
    assert len(set(reasons)) == len(failing)


def test_uscc_with_check_only_computes_position_18() -> None:
    assert uscc_with_check(STDNUM_EXAMPLE_USCC[:17]) == STDNUM_EXAMPLE_USCC
    # An unknown authority is not its concern: it completes the code and leaves judging to validate_uscc.
    assert uscc_with_check("B" + STDNUM_EXAMPLE_USCC[1:17]).startswith("B")


@pytest.mark.parametrize("prefix", ["9111000060003734", "911100006000373411", "9111000060003734I"])
def test_uscc_with_check_refuses_a_prefix_that_is_not_17_alphabet_characters(prefix: str) -> None:
    with pytest.raises(InvalidIdentifier):
        uscc_with_check(prefix)


@pytest.mark.parametrize(
    ("authority", "org_type", "region", "body"),
    [
        ("B", "1", "110000", "12345678"),
        ("9", "11", "110000", "12345678"),
        ("9", "1", "11000", "12345678"),
        ("9", "1", "1100AB", "12345678"),
        ("9", "1", "110000", "1234567"),
        ("9", "1", "110000", "1234567O"),
    ],
)
def test_make_uscc_refuses_invalid_parts(authority: str, org_type: str, region: str, body: str) -> None:
    with pytest.raises(InvalidIdentifier):
        make_uscc(authority, org_type, region, body)


def test_invalid_identifier_is_a_value_error_carrying_kind_and_reason() -> None:
    with pytest.raises(ValueError, match="18 characters") as caught:
        validate_uscc("123")
    assert isinstance(caught.value, InvalidIdentifier)
    assert caught.value.kind == "uscc"
    assert str(caught.value) == caught.value.reason


@modest
@given(usccs_parts)
def test_any_code_built_from_valid_parts_is_valid(parts: tuple[str, str, str, str]) -> None:
    code = make_uscc(*parts)
    assert validate_uscc(code) == code
    assert code[17] == independent_uscc_check(code[:17])


@modest
@given(usccs_parts, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_changing_any_single_character_of_a_valid_code_makes_it_invalid(
    parts: tuple[str, str, str, str], index: int, char: str
) -> None:
    code = make_uscc(*parts)
    if code[index] == char:
        char = ALPHABET[(ALPHABET.index(char) + 1) % len(ALPHABET)]
    mutated = replace_at(code, index, char)
    with pytest.raises(InvalidIdentifier) as caught:
        validate_uscc(mutated)
    assert mutated not in caught.value.reason


@modest
@given(usccs_parts.filter(lambda parts: parts[0] in "123456789" and parts[1] in "0123456789"))
def test_codes_with_digit_authority_and_type_agree_with_stdnum(parts: tuple[str, str, str, str]) -> None:
    assert _uscc.is_valid(make_uscc(*parts))


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_the_position_18_check_agrees_with_stdnum_for_any_prefix(prefix: str) -> None:
    """validate_uscc computes the MOD 31 check itself (faster than stdnum's, which cleans its input first)."""
    assert _uscc_check(prefix + "0") == _uscc.calc_check_digit(prefix) == independent_uscc_check(prefix)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_the_organization_code_check_agrees_with_the_weighted_sum(body: str) -> None:
    assert _org_code_check(body) == independent_org_code_check(body)


def test_the_organization_code_check_of_a_published_code() -> None:
    # The organization code 60003734-1 of the stdnum example above, and the two check values that are no digit
    # of 11 - sum: 10 (weighted sum 12) and 11 (sum 0).
    assert _org_code_check("60003734") == "1"
    assert _org_code_check("00000006") == "X"
    assert _org_code_check("00000000") == "0"


# --- Resident identity card number -------------------------------------------------------------------------


def test_gb_11643_example_number_is_accepted() -> None:
    assert validate_id_number(GB_EXAMPLE_ID, today=TODAY) == GB_EXAMPLE_ID
    assert make_id_number("110105", datetime.date(1949, 12, 31), 2) == GB_EXAMPLE_ID


def test_lower_case_x_is_accepted_and_normalized() -> None:
    assert validate_id_number(GB_EXAMPLE_ID.lower(), today=TODAY) == GB_EXAMPLE_ID
    assert validate_id_number("110105 19491231 002x", today=TODAY) == GB_EXAMPLE_ID


def test_id_number_with_wrong_check_digit_is_rejected() -> None:
    assert "check digit" in id_reason(replace_at(GB_EXAMPLE_ID, 17, "3"))


def test_id_number_born_on_february_30_is_rejected() -> None:
    first17 = "11010119900230123"
    number = first17 + independent_id_check(first17)  # right check digit: the date alone is at fault
    assert "not a real date" in id_reason(number)


def test_id_number_born_on_february_29_counts_only_in_leap_years() -> None:
    leap = make_id_number("110101", datetime.date(2000, 2, 29), 123)
    assert validate_id_number(leap, today=TODAY) == leap
    first17 = "11010119990229123"
    assert "not a real date" in id_reason(first17 + independent_id_check(first17))


def test_id_number_born_yesterday_or_today_is_accepted() -> None:
    for birth in (TODAY - datetime.timedelta(days=1), TODAY):
        number = make_id_number("110101", birth, 1)
        assert validate_id_number(number, today=TODAY) == number


def test_id_number_born_tomorrow_is_rejected_although_stdnum_accepts_it() -> None:
    number = make_id_number("110101", TODAY + datetime.timedelta(days=1), 1)
    assert _ric.is_valid(number)
    assert "future" in id_reason(number)


def test_id_number_born_before_1900_is_rejected() -> None:
    assert "before 1900" in id_reason(make_id_number("110101", datetime.date(1899, 12, 31), 1))
    earliest = make_id_number("110101", datetime.date(1900, 1, 1), 1)
    assert validate_id_number(earliest, today=TODAY) == earliest


def test_fifteen_digit_legacy_number_is_rejected_with_its_own_reason() -> None:
    reason = id_reason("110105491231002")
    assert "15-digit" in reason
    assert "18-digit" in reason


@pytest.mark.parametrize("value", ["1101051949123100", "11010519491231002X1", ""])
def test_id_number_of_wrong_length_is_rejected(value: str) -> None:
    assert "18 characters" in id_reason(value)


@pytest.mark.parametrize(
    "value", ["X1010519491231002X", "1101051949123100XX", "11010519491231002A", "１１０１０５19491231002X"]
)
def test_id_number_not_made_of_ascii_digits_and_final_x_is_rejected(value: str) -> None:
    assert "17 digits" in id_reason(value)


def test_id_number_failure_reasons_are_distinct_and_never_echo_the_number() -> None:
    feb30 = "11010119900230123"
    failing = [
        "110105491231002",
        "1101051949123100",
        "1101051949123100XX",
        feb30 + independent_id_check(feb30),
        make_id_number("110101", datetime.date(1899, 12, 31), 1),
        make_id_number("110101", TODAY + datetime.timedelta(days=1), 1),
        replace_at(GB_EXAMPLE_ID, 17, "3"),
    ]
    reasons = []
    for value in failing:
        with pytest.raises(InvalidIdentifier) as caught:
            validate_id_number(value, today=TODAY)
        assert value not in str(caught.value)
        assert value[6:14] not in caught.value.reason  # not even the birth date
        reasons.append(caught.value.reason)
    assert len(set(reasons)) == len(failing)


def test_birth_date_is_read_from_positions_7_to_14() -> None:
    assert id_number_birth_date(GB_EXAMPLE_ID) == datetime.date(1949, 12, 31)
    with pytest.raises(InvalidIdentifier, match="not a real date"):
        id_number_birth_date("110101199002301230")


def test_masking_keeps_first_six_and_last_four_and_hides_the_birth_date() -> None:
    masked = mask_id_number(GB_EXAMPLE_ID)
    assert masked == "110105********002X"
    assert masked[:6] == GB_EXAMPLE_ID[:6]
    assert masked[-4:] == GB_EXAMPLE_ID[-4:]
    assert "19491231" not in masked
    assert mask_id_number("110101 19900101 123x") == "110101********123X"


def test_masking_refuses_values_that_are_not_18_characters() -> None:
    with pytest.raises(InvalidIdentifier):
        mask_id_number("110105491231002")


@pytest.mark.parametrize(("region", "sequence"), [("11010", 1), ("11010A", 1), ("110101", -1), ("110101", 1000)])
def test_make_id_number_refuses_invalid_parts(region: str, sequence: int) -> None:
    with pytest.raises(InvalidIdentifier):
        make_id_number(region, datetime.date(1990, 1, 1), sequence)


def test_looks_like_id_number_finds_real_numbers_and_skips_near_misses() -> None:
    assert looks_like_id_number(GB_EXAMPLE_ID)
    assert looks_like_id_number(GB_EXAMPLE_ID.lower())
    assert not looks_like_id_number(replace_at(GB_EXAMPLE_ID, 17, "3"))
    assert not looks_like_id_number("110105491231002")
    assert not looks_like_id_number("order 123456789012345678")


def test_normalize_strips_spaces_and_hyphens_and_upper_cases() -> None:
    assert normalize(" 1101-05 19491231\u3000002x\n") == GB_EXAMPLE_ID


@modest
@given(regions, birth_dates, sequences)
def test_any_built_id_number_is_valid_and_its_mask_hides_the_birth_date(
    region: str, birth: datetime.date, sequence: int
) -> None:
    number = make_id_number(region, birth, sequence)
    assert validate_id_number(number, today=TODAY) == number
    assert number[17] == independent_id_check(number[:17])
    assert id_number_birth_date(number) == birth
    masked = mask_id_number(number)
    assert birth.strftime("%Y%m%d") not in masked
    assert masked[:6] == number[:6]
    assert masked[-4:] == number[-4:]


@modest
@given(
    regions,
    st.dates(min_value=datetime.date(1850, 1, 1), max_value=datetime.date(2100, 12, 31)),
    sequences,
    st.integers(min_value=0, max_value=17),
    st.sampled_from("0123456789Xx"),
)
def test_looks_like_id_number_agrees_with_validate_id_number(
    region: str, birth: datetime.date, sequence: int, index: int, char: str
) -> None:
    # A built number, then one character possibly changed: covers right and wrong check digits and dates.
    number = replace_at(make_id_number(region, birth, sequence), index, char)
    try:
        validate_id_number(number, today=TODAY)
    except InvalidIdentifier as error:
        valid = False
        assert number not in error.reason
    else:
        valid = True
    assert looks_like_id_number(number, today=TODAY) == valid
    try:
        born_by_today = id_number_birth_date(number) <= TODAY
    except InvalidIdentifier:
        born_by_today = True  # no date to hold against it: both must reject on shape or date alone
    if born_by_today:
        assert looks_like_id_number(number) == valid
