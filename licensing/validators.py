"""Normalisation and checks of identifiers a person types: ISBN, ISCC, invoice numbers, bank codes, kana."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jaconv
from babel import Locale
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.jp import cn as corporate_number

_ISCC_RE = re.compile(r"^ISCC:[A-Z2-7]{10,95}$")  # fits the 100-character column
_SMALL_KANA = str.maketrans("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ")
# Characters a Zengin transfer accepts in a name: digits, upper-case letters, half-width katakana, space, ( ) . , - /
_ZENGIN_CHARS = re.compile(r"^[0-9A-Zｦ-ﾟ ().,\-/｢｣\\]*$")


def normalize_isbn(value: str) -> str:
    """ISBN-10 or ISBN-13, hyphens or spaces allowed → ISBN-13 digits."""
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(value)).replace("-", "")
    except StdnumError:
        raise ValidationError(_("%(value)s is not a valid ISBN."), code="isbn", params={"value": value}) from None


def normalize_iscc(value: str) -> str:
    """An ISCC code, with or without its `ISCC:` prefix → `ISCC:…` (base32, upper case)."""
    code = value.strip().upper()
    if not code.startswith("ISCC:"):
        code = "ISCC:" + code
    if not _ISCC_RE.match(code):
        raise ValidationError(
            _("%(value)s is not an ISCC code (ISCC: followed by base32 characters)."),
            code="iscc",
            params={"value": value},
        )
    return code


def validate_invoice_registration_number(value: str) -> str:
    """`T` + 13 digits whose last-but-… check digit is right (the National Tax Agency's corporate-number rule)."""
    value = unicodedata.normalize("NFKC", value).strip().upper()
    if not re.fullmatch(r"T[0-9]{13}", value) or not corporate_number.is_valid(value[1:]):
        raise ValidationError(
            _("%(value)s is not a valid invoice registration number (T, 13 digits, valid check digit)."),
            code="invoice_registration_number",
            params={"value": value},
        )
    return value


def to_halfwidth_kana(value: str) -> str:
    """Hiragana or full-width katakana, letters and digits → upper-case half-width as banks print them."""
    text = jaconv.hira2kata(value.strip())
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True).upper()
    text = text.replace("　", " ").translate(_SMALL_KANA)
    return re.sub(r" +", " ", text)


def validate_kana(value: str, *, max_length: int | None = None) -> str:
    kana = to_halfwidth_kana(value)
    if not kana:
        raise ValidationError(_("A name in kana is required."), code="kana")
    if not _ZENGIN_CHARS.match(kana):
        bad = "".join(sorted({ch for ch in kana if not _ZENGIN_CHARS.match(ch)}))
        raise ValidationError(
            _("Only katakana, hiragana, latin letters, digits and ( ) . , - / may be used; not: %(chars)s"),
            code="kana",
            params={"chars": bad},
        )
    if max_length is not None and len(kana) > max_length:
        raise ValidationError(
            _("At most %(n)d half-width characters (this is %(length)d)."),
            code="kana_length",
            params={"n": max_length, "length": len(kana)},
        )
    return kana


@lru_cache(maxsize=1)
def _banks():
    from zengin_code import Bank

    return Bank.all


def validate_bank_branch(bank_code: str, branch_code: str) -> tuple[str, str]:
    """The bank and branch exist in the Zengin code data; returns their kana names (for transfer files)."""
    if not re.fullmatch(r"[0-9]{4}", bank_code or ""):
        raise ValidationError({"bank_code": _("A bank code is 4 digits.")})
    if not re.fullmatch(r"[0-9]{3}", branch_code or ""):
        raise ValidationError({"branch_code": _("A branch code is 3 digits.")})
    bank = _banks().get(bank_code)
    if bank is None:
        raise ValidationError({"bank_code": _("No bank has the code %(code)s.") % {"code": bank_code}})
    branch = bank.branches.get(branch_code)
    if branch is None:
        raise ValidationError(
            {"branch_code": _("%(bank)s has no branch %(code)s.") % {"bank": bank.name, "code": branch_code}}
        )
    return to_halfwidth_kana(bank.kana), to_halfwidth_kana(branch.kana)


def bank_names(bank_code: str, branch_code: str) -> tuple[str, str]:
    """Names for people: (bank, branch), or empty strings when unknown."""
    bank = _banks().get(bank_code or "")
    branch = bank.branches.get(branch_code or "") if bank else None
    return (bank.name if bank else "", branch.name if branch else "")


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha() and code != "ZZ")


def validate_country(value: str, *, allow_any: bool = False) -> str:
    code = (value or "").strip().upper()
    if allow_any and code == "*":
        return code
    if code not in _countries():
        raise ValidationError(_("%(value)s is not an ISO 3166 country code."), code="country", params={"value": value})
    return code
