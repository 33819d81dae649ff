"""Chinese identifiers: the unified social credit code and the resident identity card number.

Employers are identified by their unified social credit code (统一社会信用代码, GB 32100-2015), which embeds
an organization code (组织机构代码, GB 11714); workers by their resident identity card number (居民身份证号码,
GB 11643-1999). ``stdnum.cn.ric`` is used where it is right (the ISO 7064 MOD 11-2 check digit and the
birth-date split of an ID number); ``stdnum.cn.uscc`` is the reference the USCC's position-18 check is tested
against (computed here without stdnum's input clean-up, see ``_uscc_check``). This module closes their gaps:
stdnum rejects valid codes whose registration authority is A, N or Y, never checks the embedded organization
code, and accepts ID numbers born in the future.

Failure reasons never contain the value itself, because an ID number is personal information and reasons
end up in API error messages and logs.
"""

from __future__ import annotations

import datetime

from stdnum.cn import ric as _ric
from stdnum.exceptions import ValidationError as _StdnumValidationError

__all__ = [
    "InvalidIdentifier",
    "id_number_birth_date",
    "looks_like_id_number",
    "make_id_number",
    "make_uscc",
    "mask_id_number",
    "normalize",
    "uscc_with_check",
    "validate_id_number",
    "validate_uscc",
]

USCC_KIND = "uscc"
USCC_LENGTH = 18
ID_NUMBER_KIND = "id_number"

# GB 32100-2015 character set: digits and capital letters without I, O, Z, S, V (easily misread).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100-2015 table of registration-authority codes (position 1): 1 机构编制, 2 外交, 3 司法行政, 4 文化,
# 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商/市场监管, A 中央军委改革和编制办公室, N 农业农村, Y 其他.
USCC_REGISTRATION_AUTHORITIES = "123456789ANY"
_USCC_ALPHABET_SET = frozenset(USCC_ALPHABET)
# Each character as the digit of its value (0-30) in base 34, for ``_uscc_check``.
_USCC_AS_BASE34 = str.maketrans(USCC_ALPHABET, "0123456789abcdefghijklmnopqrstu")
_DIGITS = "0123456789"
_DIGIT_SET = frozenset(_DIGITS)
# Each character of an organization code as the digit of its value (0-35, A=10) modulo 11 in base 17, for
# ``_org_code_check``.
_ORG_CODE_AS_BASE17 = str.maketrans(
    {ch: "0123456789a"[int(ch, 36) % 11] for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
)
# GB 11643-1999 does not date anyone before this; earlier "birth dates" are typos or test data.
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

_USCC_LENGTH = "A unified social credit code must be 18 characters long."
_USCC_ALPHABET_REASON = (
    "A unified social credit code may only contain digits and the capital letters A-H, J-N, P-R, T, U, W, X and Y."
)
_USCC_AUTHORITY = (
    "The first character of a unified social credit code must be a registration authority code (1-9, A, N or Y)."
)
_USCC_REGION = "Characters 3 to 8 of a unified social credit code must be a 6-digit administrative region code."
_USCC_ORG_CHECK = (
    "The organization code in characters 9 to 17 of the unified social credit code has a wrong check character."
)
_USCC_CHECK = "The unified social credit code has a wrong check character (character 18)."
_USCC_PREFIX_LENGTH = "The first part of a unified social credit code must be 17 characters long."
_ORG_CODE_BODY_LENGTH = "The body of an organization code must be 8 characters long."
_ORG_TYPE_LENGTH = "An organization type code must be a single character."

_ID_LEGACY = "15-digit (first-generation) resident identity card numbers are not accepted; give the 18-digit number."
_ID_LENGTH = "A resident identity card number must be 18 characters long."
_ID_FORMAT = "A resident identity card number must be 17 digits followed by a digit or X."
_ID_NOT_A_DATE = "The birth date in the resident identity card number is not a real date."
_ID_TOO_EARLY = "The birth date in the resident identity card number is before 1900."
_ID_IN_FUTURE = "The birth date in the resident identity card number is in the future."
_ID_CHECK = "The resident identity card number has a wrong check digit."
_ID_REGION = "A region code must be 6 digits."
_ID_SEQUENCE = "A sequence number must be between 0 and 999."


class InvalidIdentifier(ValueError):
    """An identifier that fails its standard.

    ``kind`` is ``'uscc'`` or ``'id_number'``; ``reason`` is a short English sentence fit for an API error
    message. The reason never contains the identifier: ID numbers are personal information.
    """

    kind: str
    reason: str

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def normalize(value: str) -> str:
    """Strip spaces (any whitespace) and hyphens and upper-case, as people type and print these numbers."""
    if value.isascii() and value.isalnum():  # the usual case, and a bulk import's hot path: nothing to strip
        return value.upper()
    return "".join(ch for ch in value if ch != "-" and not ch.isspace()).upper()


# --- Unified social credit code (GB 32100-2015) ------------------------------------------------------------


def _org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organization code body.

    Digits count as their value, letters as A=10 .. Z=35; C9 = 11 - (weighted sum mod 11), 10 → 'X',
    11 → '0'. Callers guarantee ``body`` is 8 characters of digits and capital letters.

    The weights 3, 7, 9, 10, 5, 8, 4, 2 are 3·6^i modulo 11, and 17 ≡ 6 (mod 11): the body reversed, read as a
    base-17 number of its values modulo 11, is the weighted sum over 3 modulo 11. ``int`` does the sum in C,
    several times faster than a loop over the characters, and a screen validates a thousand codes a request.
    """
    check = 11 - 3 * int(body[::-1].translate(_ORG_CODE_AS_BASE17), 17) % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def _uscc_check(code: str) -> str:
    """GB 32100-2015 check character (position 18) of a code (or 17-character prefix) whose first 17 characters
    are in the alphabet.

    The MOD 31 sum with weights 3^i mod 31, as ``stdnum.cn.uscc.calc_check_digit`` computes it (a test holds
    the two equal over random prefixes), without stdnum's clean-up of the input, which the caller has done
    already. Since 34 ≡ 3 (mod 31), the 17 characters reversed, read as a base-34 number of their values, are
    that sum modulo 31: ``int`` computes it in C, for the bulk import's rows and a screen's thousand refs.
    """
    return USCC_ALPHABET[-int(code[16::-1].translate(_USCC_AS_BASE34), 34) % 31]


def _require_uscc_alphabet(value: str) -> None:
    if not _USCC_ALPHABET_SET.issuperset(value):
        raise InvalidIdentifier(USCC_KIND, _USCC_ALPHABET_REASON)


def validate_uscc(value: str) -> str:
    """Return the normalized 18-character unified social credit code, or raise ``InvalidIdentifier``.

    GB 32100-2015: position 1 registration authority, 2 organization type, 3-8 administrative region
    (6 digits), 9-17 the GB 11714 organization code (8-character body + check character), 18 the MOD 31
    check character. Unlike ``stdnum.cn.uscc.validate`` this accepts authorities A, N and Y and checks the
    embedded organization code, so a code with a recomputed position 18 but a broken organization code fails.
    """
    code = normalize(value)
    if len(code) != USCC_LENGTH:
        raise InvalidIdentifier(USCC_KIND, _USCC_LENGTH)
    _require_uscc_alphabet(code)
    if code[0] not in USCC_REGISTRATION_AUTHORITIES:
        raise InvalidIdentifier(USCC_KIND, _USCC_AUTHORITY)
    if not _DIGIT_SET.issuperset(code[2:8]):
        raise InvalidIdentifier(USCC_KIND, _USCC_REGION)
    if code[16] != _org_code_check(code[8:16]):
        raise InvalidIdentifier(USCC_KIND, _USCC_ORG_CHECK)
    if code[17] != _uscc_check(code):
        raise InvalidIdentifier(USCC_KIND, _USCC_CHECK)
    return code


def uscc_with_check(first17: str) -> str:
    """Complete a unified social credit code with its position-18 check character (GB 32100-2015).

    Only the MOD 31 check is derived; the first 17 characters are taken as given (they must be 17 characters
    of the code's alphabet), so callers can build deliberately broken codes in other positions.
    """
    prefix = normalize(first17)
    if len(prefix) != 17:
        raise InvalidIdentifier(USCC_KIND, _USCC_PREFIX_LENGTH)
    _require_uscc_alphabet(prefix)
    return prefix + _uscc_check(prefix)


def make_uscc(registration_authority: str, org_type: str, region: str, org_code_base8: str) -> str:
    """Build a fully valid unified social credit code from its parts (GB 32100-2015).

    Computes the organization code's check character (position 17, GB 11714) from its 8-character body,
    then position 18, and validates the result, so a code from here is always accepted by ``validate_uscc``.
    """
    authority = normalize(registration_authority)
    kind = normalize(org_type)
    region_code = normalize(region)
    body = normalize(org_code_base8)
    if len(authority) != 1 or authority not in USCC_REGISTRATION_AUTHORITIES:
        raise InvalidIdentifier(USCC_KIND, _USCC_AUTHORITY)
    if len(kind) != 1:
        raise InvalidIdentifier(USCC_KIND, _ORG_TYPE_LENGTH)
    if len(region_code) != 6 or any(ch not in _DIGITS for ch in region_code):
        raise InvalidIdentifier(USCC_KIND, _USCC_REGION)
    if len(body) != 8:
        raise InvalidIdentifier(USCC_KIND, _ORG_CODE_BODY_LENGTH)
    _require_uscc_alphabet(kind + body)
    return validate_uscc(uscc_with_check(authority + kind + region_code + body + _org_code_check(body)))


# --- Resident identity card number (GB 11643-1999) ---------------------------------------------------------


def _id_number_parts(value: str) -> str:
    """Normalize and check the shape: 18 characters, 17 digits then a digit or X. 15 digits are refused."""
    number = normalize(value)
    if len(number) == 15 and all(ch in _DIGITS for ch in number):
        # First-generation cards (GB 11643-1989); the system stores 18-digit numbers only.
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_LEGACY)
    if len(number) != 18:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_LENGTH)
    if any(ch not in _DIGITS for ch in number[:17]) or number[17] not in _DIGITS + "X":
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_FORMAT)
    return number


def _birth_date_of(number: str) -> datetime.date:
    try:
        return _ric.get_birth_date(number)
    except _StdnumValidationError:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_NOT_A_DATE) from None


def id_number_birth_date(value: str) -> datetime.date:
    """Birth date (positions 7-14, YYYYMMDD, GB 11643-1999) of an 18-character ID number.

    Checks the shape and that the date is real, not the check digit or the plausibility of the date.
    """
    return _birth_date_of(_id_number_parts(value))


def validate_id_number(value: str, *, today: datetime.date) -> str:
    """Return the normalized 18-character ID number, or raise ``InvalidIdentifier`` (GB 11643-1999).

    Region code (6 digits), birth date YYYYMMDD that is a real date between 1900-01-01 and ``today``
    inclusive, 3-digit sequence, ISO 7064 MOD 11-2 check digit ('X' for 10). ``today`` is passed in so the
    rule stays pure; stdnum accepts future birth dates, we do not. The region is not looked up in stdnum's
    region database: that is file I/O and its history is incomplete.
    """
    number = _id_number_parts(value)
    birth = _birth_date_of(number)
    if birth < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_TOO_EARLY)
    if birth > today:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_IN_FUTURE)
    if number[17] != _ric.calc_check_digit(number):
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_CHECK)
    return number


def mask_id_number(value: str) -> str:
    """Keep the first 6 (region) and last 4 characters, hide the 8-digit birth date: ``110101********1234``.

    The birth date is what makes a region + sequence identifying, so it is always hidden. Anything that is not
    18 characters raises ``InvalidIdentifier`` rather than being shown half-masked.
    """
    number = normalize(value)
    if len(number) != 18:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_LENGTH)
    return number[:6] + "*" * 8 + number[14:]


def looks_like_id_number(value: str, *, today: datetime.date | None = None) -> bool:
    """Whether ``value`` is shaped like a real 18-digit ID number (used to scan logs for leaked IDs).

    Same rules as ``validate_id_number`` (shape, real birth date from 1900, MOD 11-2 check digit). Without
    ``today`` a future birth date is not held against the value: a scanner should rather over-report than
    read the clock here.
    """
    try:
        validate_id_number(value, today=today if today is not None else datetime.date.max)
    except InvalidIdentifier:
        return False
    return True


def make_id_number(region: str, birth: datetime.date, sequence: int) -> str:
    """Build an 18-digit ID number (GB 11643-1999): region + YYYYMMDD + 3-digit sequence + check digit.

    The birth date is not checked against 1900 or today, so tests can build numbers that must be refused.
    """
    if len(region) != 6 or any(ch not in _DIGITS for ch in region):
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_REGION)
    if not 0 <= sequence <= 999:
        raise InvalidIdentifier(ID_NUMBER_KIND, _ID_SEQUENCE)
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    # stdnum's calc_check_digit expects a placeholder in the check position.
    return first17 + _ric.calc_check_digit(first17 + "0")
