"""Statements and invoices as downloads (API.md, Statements, invoices and payouts): CSV for spreadsheets, PDF to read.

CSV is UTF-8 with a byte-order mark, so Excel opens Japanese names as such; amounts are decimal strings in major units
("1234" JPY, "12.34" USD), as in the API. PDFs use reportlab's built-in Japanese CID font, so no font file ships, and
flow long statements over A4 pages. Text that is plain ASCII (registration numbers, periods, amounts) is set in
Helvetica. Each function runs a fixed number of queries, however many lines there are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.money import Money
from licensing.choices import Use

from .engine import last_day
from .models import Invoice, InvoiceLine, Statement, StatementLine, TaxKind
from .taxes import TaxRates

GOTHIC = "HeiseiKakuGo-W5"
MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN
GROUP_BACKGROUND = colors.HexColor("#e8e8e8")
RULE = colors.HexColor("#999999")


# shared -----------------------------------------------------------------------------------------------------------
def _amount(amount: int, currency: str) -> str:
    return Money(amount, currency).to_string()


def _grouped(amount: int, currency: str) -> str:
    """For people: "1,234", "12.50", "-1,000.05"."""
    sign, digits = ("-", _amount(-amount, currency)) if amount < 0 else ("", _amount(amount, currency))
    whole, point, fraction = digits.partition(".")
    return f"{sign}{int(whole):,}{point}{fraction}"


def _period(value) -> str:
    return f"{value:%Y-%m}"


def _use(use: str) -> str:
    return str(Use(use).label) if use in Use.values else use


def _basis(line: StatementLine | InvoiceLine) -> str:
    label = str(line.get_basis_display())
    adjusted = getattr(line, "adjusted_period", None)
    return f"{label} ({_period(adjusted)})" if adjusted else label


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first: a name a rights holder typed) is
    written with a leading apostrophe; numbers, negative amounts included, stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(value):
        return "'" + value
    return value


def _csv(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _statement_lines(statement: Statement) -> list[StatementLine]:
    return list(
        StatementLine.objects.filter(statement=statement, period=statement.period)  # one partition
        .select_related("licensee", "agreement", "work")
        .order_by("licensee__name", "licensee_id", "work__title", "work_id", "agreement__reference", "use", "basis",
                  "adjusted_period", "id")
    )  # fmt: skip


def _invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(InvoiceLine.objects.filter(invoice=invoice).order_by("basis", "use", "id"))


# PDF building blocks --------------------------------------------------------------------------------------------
@cache
def _japanese_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(GOTHIC))
    return GOTHIC


@cache
def _style(font: str, size: float, align: int, indent: float) -> ParagraphStyle:
    return ParagraphStyle(
        f"{font}-{size}-{align}-{indent}", fontName=font, fontSize=size, leading=size * 1.3, alignment=align,
        leftIndent=indent, wordWrap="CJK" if font == GOTHIC else None,
    )  # fmt: skip


def _text(value: object, *, size: float = 8, bold: bool = False, right: bool = False, indent: float = 0) -> Paragraph:
    """A paragraph in Helvetica when the text is ASCII, else in the Japanese font (which has no bold)."""
    text = str(value)
    font = ("Helvetica-Bold" if bold else "Helvetica") if text.isascii() else _japanese_font()
    markup = escape(text).replace("\n", "<br/>")
    return Paragraph(markup, _style(font, size, TA_RIGHT if right else TA_LEFT, indent))


def _pairs(rows: Sequence[tuple[str, str]], *, total: bool = False, label_width: float = 70 * mm) -> Table:
    """Label and value: the details block, or the totals (on the right, the last one in bold)."""
    last = len(rows) - 1
    data = [
        [_text(label, bold=total and i == last), _text(value, right=True, bold=total and i == last)]
        for i, (label, value) in enumerate(rows)
    ]
    table = Table(data, colWidths=[label_width, 40 * mm], hAlign="RIGHT" if total else "LEFT")
    commands = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE)]
    if total and rows:
        commands.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
    table.setStyle(TableStyle(commands))
    return table


def _party(name: str, postal_code: str, address: str) -> list[Flowable]:
    block = [_text(name, size=12, bold=True)]
    if postal_code:
        block.append(_text(f"〒{postal_code}", size=9))
    if address:
        block.append(_text(address, size=9))
    return block


def _lines_table(header: Sequence[str], rows: list[list[Any]], widths: Sequence[float], numeric_from: int,
                 groups: Sequence[tuple[int, colors.Color]] = ()) -> Table:  # fmt: skip
    """Lines with a header repeated on every page; `groups` are (row, background) of rows spanning the table."""
    data = [[_text(label, bold=True, right=i >= numeric_from) for i, label in enumerate(header)], *rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    commands: list[tuple] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
    ]
    for row, background in groups:
        commands += [("SPAN", (0, row), (-1, row)), ("BACKGROUND", (0, row), (-1, row), background)]
    table.setStyle(TableStyle(commands))
    return table


def _page_number(canvas, document) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawCentredString(A4[0] / 2, MARGIN / 2, str(canvas.getPageNumber()))
    canvas.restoreState()


def _pdf(title: str, story: list[Flowable]) -> bytes:
    """A4; invariant (no timestamps: the same statement gives the same bytes) and uncompressed pages."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, title=title, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, invariant=1, pageCompression=0,
    )  # fmt: skip
    document.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return buffer.getvalue()


def _rate(value) -> str:
    return f"{value.normalize():f}"


# statements -----------------------------------------------------------------------------------------------------
def _statement_totals(statement: Statement) -> list[tuple[str, int]]:
    return [
        (_("Gross"), statement.gross),
        (_("Commission"), statement.commission),
        (_("Net royalties"), statement.net_royalties),
        (_("Consumption tax"), statement.consumption_tax),
        (_("Withholding tax"), statement.withholding_tax),
        (_("Carried forward"), statement.carried_forward),
        (_("Payable"), statement.payable),
    ]


def statement_csv(statement: Statement) -> bytes:
    """Details, one row per line, then the totals with their amount in the last column."""
    holder, currency = statement.rights_holder, statement.currency
    header = [_("Licensee"), _("Agreement"), _("Work"), _("Use"), _("Basis"), _("Quantity"), _("Gross"),
              _("Commission"), _("Net")]  # fmt: skip
    rows: list[Sequence[Any]] = [
        [_("Rights holder"), holder.name],
        [_("Period"), _period(statement.period)],
        [_("Currency"), currency],
        [_("Invoice registration number"), statement.registration_number],
        [_("Status"), statement.get_status_display()],
        header,
    ]
    for line in _statement_lines(statement):
        rows.append([
            line.licensee.name, line.agreement.reference, line.work.title, _use(line.use), _basis(line),
            line.quantity, _amount(line.gross, currency), _amount(line.commission, currency),
            _amount(line.net, currency),
        ])  # fmt: skip
    padding = [""] * (len(header) - 2)
    rows += [[label, *padding, _amount(amount, currency)] for label, amount in _statement_totals(statement)]
    return _csv(rows)


def statement_pdf(statement: Statement) -> bytes:
    """支払明細書: the lines by licensee and work, the totals, and what a qualified invoice must state (the holder's
    registration number, the amount and the consumption tax by rate)."""
    holder, currency = statement.rights_holder, statement.currency
    lines = _statement_lines(statement)
    rates = TaxRates.on_date(last_day(statement.period))
    consumption = rates.rules.get(TaxKind.CONSUMPTION)

    details = [(_("Period"), _period(statement.period)), (_("Currency"), currency)]
    if statement.registration_number:
        details.append((_("Invoice registration number"), statement.registration_number))
    details.append((_("Status"), str(statement.get_status_display())))

    rows: list[list[Any]] = []
    groups: list[tuple[int, colors.Color]] = []
    licensee_id = work_key = None
    for line in lines:
        if line.licensee_id != licensee_id:
            licensee_id, work_key = line.licensee_id, None
            rows.append([_text(line.licensee.name, bold=True), *[""] * 6])
            groups.append((len(rows), GROUP_BACKGROUND))
        if line.work_id != work_key:
            work_key = line.work_id
            rows.append([_text(line.work.title, indent=6), *[""] * 6])
            groups.append((len(rows), colors.white))
        rows.append([
            _text(line.agreement.reference), _text(_use(line.use)), _text(_basis(line)), f"{line.quantity:,}",
            _grouped(line.gross, currency), _grouped(line.commission, currency), _grouped(line.net, currency),
        ])  # fmt: skip
    header = [_("Agreement"), _("Use"), _("Basis"), _("Quantity"), _("Gross"), _("Commission"), _("Net")]
    widths = [m * mm for m in (32, 22, 30, 20, 26, 24, 26)]

    totals = [(label, _grouped(amount, currency)) for label, amount in _statement_totals(statement)]
    applied = _consumption_tax_applied(statement, rates)
    if applied and consumption is not None:  # the amount subject to the rate, and the tax at that rate
        rate = {"rate": _rate(consumption.rate)}
        totals[2] = (_("Net royalties, subject to %(rate)s %% tax") % rate, totals[2][1])
        totals[3] = (_("Consumption tax (%(rate)s %%)") % rate, totals[3][1])
    elif not applied:
        totals[3] = (_("Consumption tax: not applicable"), totals[3][1])

    story: list[Flowable] = [
        _text(_("Royalty statement"), size=16, bold=True),
        Spacer(1, 6 * mm),
        *_party(holder.name, holder.postal_code, holder.address),
        Spacer(1, 4 * mm),
        _pairs(details, label_width=50 * mm),
        Spacer(1, 6 * mm),
        _lines_table(header, rows, widths, numeric_from=3, groups=groups),
        Spacer(1, 6 * mm),
        _pairs(totals, total=True),
    ]
    if not applied:
        story += [Spacer(1, 3 * mm), _text(_no_consumption_tax(statement))]
    if statement.carried_out:
        story += [Spacer(1, 3 * mm), _text(_("Below the minimum payout: carried forward to the next statement."))]
    return _pdf(_("Royalty statement"), story)


def _consumption_tax_applied(statement: Statement, rates: TaxRates) -> bool:
    """Whether the statement was computed with consumption tax (RULES.md 5: a registered holder resident in Japan).

    The statement keeps the registration number and the tax, not the residence, which may have changed since: a tax
    means it applied; none where a resident would have owed some means it did not; when there was nothing to tax
    either way (no positive net royalties), the holder's residence tells."""
    if statement.consumption_tax > 0:
        return True
    if not statement.registration_number:
        return False
    if TaxKind.CONSUMPTION in rates.rules and rates.consumption_tax(
        statement.net_royalties, registration_number=statement.registration_number, resident=True
    ):
        return False
    return statement.rights_holder.resident


def _no_consumption_tax(statement: Statement) -> str:
    if not statement.registration_number:
        return _("No consumption tax applies: the rights holder has no invoice registration number.")
    return _("No consumption tax applies: the rights holder is not resident in Japan.")


# invoices -------------------------------------------------------------------------------------------------------
def _invoice_totals(invoice: Invoice) -> list[tuple[str, int]]:
    return [
        (_("Royalties"), invoice.royalties),
        (_("Advance recouped"), invoice.advance_recouped),
        (_("Amount due"), invoice.amount_due),
    ]


def invoice_csv(invoice: Invoice) -> bytes:
    """Details, one row per line (basis and use), then the totals with their amount in the last column."""
    currency = invoice.currency
    header = [_("Basis"), _("Use"), _("Quantity"), _("Amount")]
    rows: list[Sequence[Any]] = [
        [_("Licensee"), invoice.licensee.name],
        [_("Agreement"), invoice.agreement.reference],
        [_("Period"), _period(invoice.period)],
        [_("Currency"), currency],
        [_("Status"), invoice.get_status_display()],
        header,
    ]
    rows += [
        [_basis(line), _use(line.use), line.quantity, _amount(line.amount, currency)]
        for line in _invoice_lines(invoice)
    ]
    rows += [[label, "", "", _amount(amount, currency)] for label, amount in _invoice_totals(invoice)]
    return _csv(rows)


def invoice_pdf(invoice: Invoice) -> bytes:
    """請求書: what the licensee owes for the agreement and period, by basis and use, less the advance recouped."""
    licensee, currency = invoice.licensee, invoice.currency
    details = [
        (_("Agreement"), invoice.agreement.reference),
        (_("Period"), _period(invoice.period)),
        (_("Currency"), currency),
        (_("Status"), str(invoice.get_status_display())),
    ]
    rows = [
        [_text(_basis(line)), _text(_use(line.use)), f"{line.quantity:,}", _grouped(line.amount, currency)]
        for line in _invoice_lines(invoice)
    ]
    header = [_("Basis"), _("Use"), _("Quantity"), _("Amount")]
    totals = [(label, _grouped(amount, currency)) for label, amount in _invoice_totals(invoice)]
    story: list[Flowable] = [
        _text(_("Invoice"), size=16, bold=True),
        Spacer(1, 6 * mm),
        *_party(licensee.name, "", licensee.address),
        Spacer(1, 4 * mm),
        _pairs(details, label_width=50 * mm),
        Spacer(1, 6 * mm),
        _lines_table(header, rows, [m * mm for m in (60, 40, 40, 40)], numeric_from=2),
        Spacer(1, 6 * mm),
        _pairs(totals, total=True),
    ]
    return _pdf(_("Invoice"), story)
