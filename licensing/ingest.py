"""Usage report ingestion: the hot path. No model instance and no DRF serializer per event.

Bytes → events (msgspec: types checked in C, a clean NDJSON body in one call) → one plain validation function, with
what a report repeats checked once → COPY into a temporary staging table → one statement resolves the work
references → one statement applies the coverage rules (licensing/sql/0013_coverage_pieces.sql, 0017) to every event,
inserts the accepted ones, and counts and lists the rejected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import queue
import re
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import msgspec
from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _

from config.fields import parse_iso_date
from ledger.money import Money, MoneyError, currency_digits

from .choices import Use
from .references import parse_reference
from .validators import _countries

MAX_ERRORS = 100
USES = frozenset(Use.values)
MAX_QUANTITY = 10**12


class BodyError(ValueError):
    """The body as a whole cannot be read (not JSON, not gzip, too large…): a 400 or a 413, nothing stored."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Parsed:
    rows: list[str] = field(default_factory=list)  # the valid events, as lines for COPY into usage_staging
    refs: list[str] = field(default_factory=list)  # the references first named in this chunk, for usage_refs
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message): the report's first MAX_ERRORS
    rejected: int = 0  # the events rejected in this chunk, listed in `errors` or not
    received: int = 0


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = (encoding or "").lower().strip()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(
            _("Content-Encoding %(encoding)s is not supported; send gzip or nothing.") % {"encoding": encoding}, 415
        )
    limit = settings.USAGE_MAX_BODY_BYTES
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise BodyError(_("The body is not valid gzip.")) from None
    if len(data) > limit:
        raise BodyError(_("The uncompressed body is larger than %(n)d bytes.") % {"n": limit}, 413)
    return data


def body_hash(body: bytes, content_type: str) -> str:
    return hashlib.sha256(content_type.encode() + b"\0" + body).hexdigest()


class Revenue(msgspec.Struct):
    amount: str
    currency: str


class Event(msgspec.Struct):
    """An event as msgspec decodes it, types checked in C; the rules (references, period, codes) come after."""

    work: str
    use: str
    quantity: int
    occurred_on: str
    model: str
    territory: str | None = None
    revenue: Revenue | None = None


class _JsonReport(msgspec.Struct):
    events: list[msgspec.Raw]


_EVENT = msgspec.json.Decoder(Event)
_JSON_REPORT = msgspec.json.Decoder(_JsonReport)
_ERROR_FIELD = re.compile(r"missing required field `(\w+)`|at `\$(?:\[\d+\])?\.(\w+)")


def _field_messages() -> dict[str, str]:
    """Why a line is not an event, by field (and "": not an object, "json", "utf-8"), in the active language."""
    return {
        "": _("An event is a JSON object."),
        "json": _("This line is not valid JSON."),
        "utf-8": _("This line is not valid UTF-8."),
        "work": _("work: not a work reference (uuid, isbn:…, iscc:… or ext:<scheme>:<value>)."),
        "use": _("use: one of training, fine_tuning, generation, retrieval."),
        "quantity": _("quantity: a whole number from 1."),
        "occurred_on": _("occurred_on: a date, YYYY-MM-DD."),
        "model": _("model: the model's name, 1 to 200 characters."),
        "territory": _("territory: an ISO 3166 country code."),
        "revenue": _('revenue: null or {"amount": "1200", "currency": "JPY"}.'),
    }


def _decode_event(raw: bytes, messages: dict[str, str]) -> Event | str:
    """One event, or why it cannot be one (its first wrong field, in our words: `messages`, _field_messages() made
    once per report, not once per line)."""
    try:
        return _EVENT.decode(raw)
    except msgspec.ValidationError as exc:
        match = _ERROR_FIELD.search(str(exc))
        field_name = match and (match[1] or match[2])
        return messages.get(field_name or "") or messages[""]
    except (msgspec.DecodeError, RecursionError):
        return messages["json"]
    except UnicodeDecodeError:
        return messages["utf-8"]


def _lines(body: bytes) -> int:
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1) if body else 0


FIRST_SLICE_BYTES = 128 * 1024  # NDJSON decoded in slices, the first small: the storing thread starts sooner
SLICE_BYTES = 4 * 1024 * 1024


def _slices(body: bytes) -> Iterator[bytes]:
    """The body in slices of whole lines."""
    start, size = 0, FIRST_SLICE_BYTES
    while start < len(body):
        end = body.find(b"\n", start + size)
        end = len(body) if end < 0 else end + 1
        yield body[start:end]
        start, size = end, SLICE_BYTES


def iter_events(body: bytes, content_type: str) -> Iterator[tuple[int, Event | str]]:
    """(line, event or the message saying why that line is not one). NDJSON counts lines from 1, blank lines
    skipped; a JSON body `{"events": [...]}` counts its events from 1 (and raises BodyError if it is not one).

    NDJSON is decoded a slice of lines at a time, each in one call (msgspec's decode_lines) when every line in it
    is a well-typed event, the common case; a slice with a blank or a bad line is decoded again line by line, to
    say which and why."""
    messages = _field_messages()
    if content_type == "application/x-ndjson":
        first = 1
        for piece in _slices(body):
            lines = _lines(piece)
            try:
                events = _EVENT.decode_lines(piece)
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                events = None  # said line by line below
            if events is not None and len(events) == lines:
                yield from enumerate(events, start=first)
            else:
                for number, raw in enumerate(piece.split(b"\n"), start=first):
                    if raw.strip():
                        yield number, _decode_event(raw, messages)
            first += lines
        return
    for number, raw in enumerate(_json_events(body), start=1):
        yield number, _decode_event(raw, messages)


def _json_events(body: bytes) -> list:
    """The raw events of a JSON body {"events": [...]}, or BodyError."""
    try:
        return _JSON_REPORT.decode(body).events
    except (msgspec.DecodeError, RecursionError):
        raise BodyError(_("The body is not valid JSON.")) from None
    except UnicodeDecodeError:
        raise BodyError(_("The body is not valid UTF-8.")) from None
    except msgspec.ValidationError:
        message = _('A JSON body is {"events": [...]}; for one event per line use application/x-ndjson.')
        raise BodyError(message) from None


def check_body(body: bytes, content_type: str) -> None:
    """Before a key is spent on it: BodyError when a JSON body is not {"events": [...]} or an NDJSON body is empty
    (400), or when the body holds more than USAGE_MAX_EVENTS events (413). NDJSON is counted by its lines (blank
    ones not counted)."""
    max_events = settings.USAGE_MAX_EVENTS
    if content_type == "application/json":
        count = len(_json_events(body))
    elif not body.strip():  # e.g. a body lost on its way: never a report that spends its key on nothing
        raise BodyError(_('The body is empty. A month without usage is reported as JSON: {"events": []}.'))
    else:
        count = _lines(body)
        if count > max_events:  # blank lines are not events: count them out (only for a body this large)
            count = sum(1 for line in body.split(b"\n") if line.strip())
    if count > max_events:
        raise BodyError(_("A report holds at most %(n)d events.") % {"n": max_events}, 413)


CHUNK_EVENTS = 50_000  # valid events per chunk: stored while the next chunk is parsed
FIRST_CHUNK_EVENTS = 5_000  # the first chunk small: the storing thread starts sooner


def parse_chunks(
    body: bytes, content_type: str, *, period: dt.date, default_territory: str, size: int | None = None
) -> Iterator[Parsed]:
    """The report's events, validated, in chunks of at most `size` staging rows with the rejections met on the
    way; `received` counts every event so far. BodyError when the body is not a report or holds too many events."""
    max_events = settings.USAGE_MAX_EVENTS
    size = size or CHUNK_EVENTS
    limit = min(size, FIRST_CHUNK_EVENTS)
    new_refs: list[str] = []  # filled by the validator; handed over with each chunk
    validate = event_validator(period, default_territory, new_refs)
    chunk = Parsed()
    rows, errors = chunk.rows, chunk.errors
    received = listed = 0  # listed: the rejections kept with their message (the report's first MAX_ERRORS)
    for line, event in iter_events(body, content_type):
        received += 1
        if received > max_events:
            raise BodyError(_("A report holds at most %(n)d events.") % {"n": max_events}, 413)
        row = validate(event, line) if event.__class__ is Event else Rejection(event)
        if row.__class__ is str:
            rows.append(row)
            if len(rows) >= limit:
                limit = size
                chunk.received, chunk.refs = received, new_refs.copy()
                new_refs.clear()
                yield chunk
                chunk = Parsed()
                rows, errors = chunk.rows, chunk.errors
        else:  # a report of millions of bad lines keeps a hundred messages, not millions
            chunk.rejected += 1
            if listed < MAX_ERRORS:
                listed += 1
                errors.append((line, str(row)))
    chunk.received, chunk.refs = received, new_refs.copy()
    yield chunk


_CACHE_LIMIT = 4096  # distinct values remembered per report and field (dates, territories, models, amounts…)


class Rejection(str):
    """Why an event is rejected (what the validator returns instead of a staging line)."""


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def copy_text(value: str | None) -> str:
    """A value for a text-format COPY line: None is \\N; backslash, tab, newline and return escaped."""
    if value is None:
        return "\\N"
    return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m[0]], value) if _COPY_SPECIAL.search(value) else value


def _reference_line(key: int, reference) -> str:
    ref_id = None if reference.id is None else str(reference.id)
    values = (ref_id, reference.isbn, reference.iscc, reference.scheme, reference.value)
    return f"{key}\t" + "\t".join(copy_text(v) for v in values) + "\n"


def event_validator(period: dt.date, default_territory: str, new_refs: list[str]):
    """validate(event, line) → the event's line for COPY into usage_staging (text format, see STAGING_COLUMNS), or
    a Rejection saying why the event is rejected. Each distinct reference gets a number the first time it is named
    (its line for usage_refs appended to `new_refs`), and events carry that number: PostgreSQL resolves each
    reference once per report, not once per event.

    Called once per event, in the parsing thread: plain code, and the values a report repeats (its dates,
    territories, models and references) are checked and written out once and remembered for the rest of it; the
    storing thread then only hands the chunk's text to COPY."""
    period_end = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    countries = _countries()
    dates: dict[str, str] = {}  # as sent → ISO date, or a Rejection
    territories: dict[str, str | None] = {}
    models: dict[str, str | None] = {}  # as sent → stripped and escaped for COPY, or None
    keys: dict = {}  # Reference → its number in this report

    def occurred_on(value: str) -> str:
        day = parse_iso_date(value)
        if day is None:
            found = Rejection(_("occurred_on: a date, YYYY-MM-DD."))
        elif not period <= day < period_end:
            found = Rejection(_("occurred_on: %(date)s is outside the period %(period)s.") % {
                "date": day.isoformat(), "period": period.strftime("%Y-%m")})  # fmt: skip
        else:
            found = day.isoformat()
        if len(dates) < _CACHE_LIMIT:
            dates[value] = found
        return found

    def territory_of(value: str) -> str | None:
        code = value.upper() if value.upper() in countries else None
        if len(territories) < _CACHE_LIMIT:
            territories[value] = code
        return code

    def model_of(value: str) -> str | None:
        stripped = value.strip() if len(value) <= 200 and "\x00" not in value else ""
        found = copy_text(stripped) if stripped else None
        if len(models) < _CACHE_LIMIT:
            models[value] = found
        return found

    default = territory_of(default_territory) or default_territory

    def validate(event: Event, line: int) -> str:
        reference = parse_reference(event.work)
        if reference is None:
            return Rejection(_("work: not a work reference (uuid, isbn:…, iscc:… or ext:<scheme>:<value>)."))
        use = event.use
        if use not in USES:
            return Rejection(_("use: one of training, fine_tuning, generation, retrieval."))
        quantity = event.quantity
        if not 1 <= quantity <= MAX_QUANTITY:
            return Rejection(_("quantity: a whole number from 1."))
        occurred = event.occurred_on
        day = dates[occurred] if occurred in dates else occurred_on(occurred)
        if day.__class__ is Rejection:
            return day
        model = event.model
        model = models[model] if model in models else model_of(model)
        if model is None:
            return Rejection(_("model: the model's name, 1 to 200 characters."))
        territory = event.territory
        if territory is None:
            territory = default
        else:
            territory = territories[territory] if territory in territories else territory_of(territory)
            if territory is None:
                return Rejection(_("territory: an ISO 3166 country code."))
        revenue = event.revenue
        if revenue is None:
            money = "\\N\t\\N"
        else:
            money = _revenue(revenue.amount, revenue.currency)
            if money.__class__ is Rejection:
                return money
        key = keys.get(reference)
        if key is None:
            key = keys[reference] = len(keys) + 1
            new_refs.append(_reference_line(key, reference))
        return f"{line}\t{key}\t{use}\t{quantity}\t{day}\t{model}\t{territory}\t{money}\n"

    return validate


@lru_cache(maxsize=512)
def _known_digits(currency: str) -> int | None:
    try:
        return currency_digits(currency)
    except MoneyError:
        return None


def _revenue(amount: str, currency: str) -> str:
    """The two COPY columns (minor units, currency), or a Rejection."""
    digits = _known_digits(currency)
    if digits is not None and amount.isascii() and amount.isdigit() and len(amount) + digits <= 18:
        # whole units of a known currency, well inside 64 bits in minor units: the common case
        return f"{int(amount) * 10**digits}\t{currency}"
    try:
        money = Money.parse(amount, currency)
    except MoneyError as exc:
        return Rejection(_("revenue: %(reason)s") % {"reason": exc})
    return f"{money.amount}\t{money.currency}"


STAGING = """
CREATE TEMPORARY TABLE usage_staging (
    line integer NOT NULL, ref integer NOT NULL,
    use text NOT NULL, quantity bigint NOT NULL, occurred_on date NOT NULL, model text NOT NULL,
    territory text NOT NULL, revenue_amount bigint, revenue_currency text
) ON COMMIT DROP;
CREATE TEMPORARY TABLE usage_refs (
    ref integer NOT NULL, ref_id uuid, ref_isbn text, ref_iscc text, ref_scheme text, ref_value text
) ON COMMIT DROP;
CREATE TEMPORARY TABLE usage_ref_works (ref integer PRIMARY KEY, work_id uuid, bits varbit, reserved text[])
ON COMMIT DROP;
CREATE TEMPORARY TABLE usage_covers (work_id uuid PRIMARY KEY, bits varbit NOT NULL, reserved text[] NOT NULL)
ON COMMIT DROP;
CREATE TEMPORARY TABLE usage_fits (
    use text NOT NULL, on_date date NOT NULL, territory text NOT NULL, bits varbit NOT NULL,
    PRIMARY KEY (use, on_date, territory)
) ON COMMIT DROP
"""
STAGING_COLUMNS = "line, ref, use, quantity, occurred_on, model, territory, revenue_amount, revenue_currency"
REFS_COLUMNS = "ref, ref_id, ref_isbn, ref_iscc, ref_scheme, ref_value"
TEMPORARY_TABLES = ("usage_staging", "usage_refs", "usage_ref_works", "usage_covers", "usage_fits", "usage_ag")

# Once per report: the licensee's active agreements, ranked (licensing_ranked_agreements_query)
AGREEMENTS = "CREATE TEMPORARY TABLE usage_ag ON COMMIT DROP AS {agreements}"

# Per chunk, each step only for what the report has not met before:
# 1. the works its new references name, every kind of reference in one pass, and those works' candidate agreements
# and reserved uses (licensing_work_cover_query; the works already met keep theirs in usage_covers), kept per
# reference: each event then finds its work and cover in one hash join;
RESOLVE_REFS = """
WITH resolved AS MATERIALIZED (  -- a reference is of one kind: each kind joined on its own, as many as there are
    SELECT r.ref, w.id AS work_id
      FROM usage_refs r LEFT JOIN licensing_work w ON w.id = r.ref_id WHERE r.ref_id IS NOT NULL
    UNION ALL
    SELECT r.ref, w.id FROM usage_refs r LEFT JOIN licensing_work w ON w.isbn = r.ref_isbn WHERE r.ref_isbn IS NOT NULL
    UNION ALL
    SELECT r.ref, w.id FROM usage_refs r LEFT JOIN licensing_work w ON w.iscc = r.ref_iscc WHERE r.ref_iscc IS NOT NULL
    UNION ALL
    SELECT r.ref, x.work_id
      FROM usage_refs r LEFT JOIN licensing_workidentifier x ON x.scheme = r.ref_scheme AND x.value = r.ref_value
     WHERE r.ref_scheme IS NOT NULL
    UNION ALL  -- none (never made by parse_reference): no work, the event rejected rather than lost
    SELECT r.ref, NULL FROM usage_refs r
     WHERE r.ref_id IS NULL AND r.ref_isbn IS NULL AND r.ref_iscc IS NULL AND r.ref_scheme IS NULL
), fresh AS MATERIALIZED (
    {covers}
), kept AS (
    INSERT INTO usage_covers (work_id, bits, reserved) SELECT work_id, bits, reserved FROM fresh
)
INSERT INTO usage_ref_works (ref, work_id, bits, reserved)
SELECT r.ref, r.work_id, coalesce(f.bits, c.bits), coalesce(f.reserved, c.reserved)
  FROM resolved r
  LEFT JOIN fresh f ON f.work_id = r.work_id
  LEFT JOIN usage_covers c ON c.work_id = r.work_id
"""
NEW_WORKS = """(
    SELECT DISTINCT r.work_id FROM resolved r
     WHERE r.work_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM usage_covers c WHERE c.work_id = r.work_id)
)"""
# 2. the agreements that fit its new (use, date, territory) keys (licensing_fits_query);
NEW_KEYS = """(
    SELECT DISTINCT s.use, s.occurred_on AS on_date, s.territory FROM usage_staging s
     WHERE NOT EXISTS (SELECT 1 FROM usage_fits f
                        WHERE f.use = s.use AND f.on_date = s.occurred_on AND f.territory = s.territory)
)"""
FITS = "INSERT INTO usage_fits (use, on_date, territory, bits) SELECT * FROM ({fits}) f"
# 3. every event with its fate: its work, its agreement (the first bit set in both its work's and its key's bits: the
# preferred one), reserved or not, accepted or not (rejected: an unknown work, or revenue in another currency than
# the agreement's); the accepted ones inserted; all counted and the first rejections listed. One statement.
STORE = """
WITH fate AS MATERIALIZED (
    SELECT e.*, e.work_id IS NOT NULL
                AND (e.revenue_currency IS NULL OR e.currency IS NULL OR e.revenue_currency = e.currency) AS accepted
      FROM (SELECT s.line, cv.work_id, s.use, s.quantity, s.occurred_on, s.model, s.territory, s.revenue_amount,
                   s.revenue_currency, coalesce(s.use = ANY(cv.reserved), false) AS reserved,
                   CASE WHEN s.use = ANY(cv.reserved) THEN NULL ELSE ag.id END AS agreement_id,
                   CASE WHEN s.use = ANY(cv.reserved) THEN NULL ELSE ag.currency END AS currency
              FROM usage_staging s
              JOIN usage_ref_works cv ON cv.ref = s.ref
              LEFT JOIN usage_fits f ON f.use = s.use AND f.on_date = s.occurred_on AND f.territory = s.territory
              LEFT JOIN usage_ag ag ON ag.rank = position(B'1' IN cv.bits & f.bits)) e
),
inserted AS (
    INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, quantity,
                                      occurred_on, model, territory, revenue_amount, revenue_currency, reserved, late)
    SELECT %(period)s, %(report)s, r.line, %(licensee)s, r.work_id, r.agreement_id, r.use, r.quantity, r.occurred_on,
           r.model, r.territory, r.revenue_amount, r.revenue_currency, r.reserved, %(late)s
      FROM fate r WHERE r.accepted
)
SELECT count(*) FILTER (WHERE accepted),
       count(*) FILTER (WHERE accepted AND agreement_id IS NULL),
       count(*) FILTER (WHERE NOT accepted),
       (SELECT array_agg(ARRAY[e.line::text, e.error] ORDER BY e.line)
          FROM (SELECT r.line, CASE WHEN r.work_id IS NULL THEN %(unknown)s
                                    ELSE format(%(currency)s, r.revenue_currency, r.currency) END AS error
                  FROM fate r WHERE NOT r.accepted ORDER BY r.line LIMIT %(limit)s) e)
  FROM fate
"""


@dataclass
class Result:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    unlicensed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_ERRORS (line, message)

    def add(self, *, accepted=0, rejected=0, unlicensed=0, errors=()) -> None:
        self.accepted += accepted
        self.rejected += rejected
        self.unlicensed += unlicensed
        self.errors = sorted([*self.errors, *errors])[:MAX_ERRORS]


class Stager:
    """Stores chunks of staging rows in the caller's transaction: COPY into the staging table, then one statement
    applies the coverage rules, inserts the accepted events and counts the rest.

    What coverage needs is computed once per report and kept in temporary tables across the chunks: the licensee's
    agreements, ranked; each distinct reference's work; each work's candidate agreements and reserved uses; each
    (use, date, territory)'s fitting agreements. A chunk computes them only for the values it is the first to name,
    and its events find theirs by hash joins."""

    def __init__(self, cursor, *, report_id, licensee_id, period: dt.date, late: bool):
        self.cursor = cursor
        self.params = {
            "unknown": _("work: no such work."),
            "currency": _("revenue: reported in %s, but the agreement is in %s."),
            "period": period, "report": report_id, "licensee": licensee_id, "late": late, "limit": MAX_ERRORS,
        }  # fmt: skip
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMPORARY_TABLES)}")
        cursor.execute(STAGING)
        cursor.execute(
            "SELECT licensing_ranked_agreements_query(quote_literal(%s) || '::uuid', 'true'),"
            " licensing_work_cover_query(%s, 'usage_ag'), licensing_fits_query(%s, 'usage_ag')",
            [str(licensee_id), NEW_WORKS, NEW_KEYS],
        )
        agreements, covers, fits = cursor.fetchone()
        cursor.execute(AGREEMENTS.format(agreements=agreements))
        cursor.execute("ALTER TABLE usage_ag ADD PRIMARY KEY (rank)")
        cursor.execute("ANALYZE usage_ag")
        self.resolve_refs = RESOLVE_REFS.format(covers=covers)
        self.fits = FITS.format(fits=fits)
        cursor.execute("SET LOCAL enable_mergejoin = off")  # see licensing/sql/0017_cover_projectset.sql
        cursor.execute("SET LOCAL work_mem = '64MB'")  # a chunk's events with their fate, held in memory

    def store(self, chunk: Parsed, result: Result) -> None:
        cursor = self.cursor
        cursor.execute("TRUNCATE usage_refs, usage_staging")
        if chunk.refs:
            with cursor.cursor.copy(f"COPY usage_refs ({REFS_COLUMNS}) FROM STDIN") as copy:
                copy.write("".join(chunk.refs))
            # how many of each kind: a hash join over the works for the many (uuids), index probes for the few
            cursor.execute("ANALYZE usage_refs")
            cursor.execute(self.resolve_refs)
        if not chunk.rows:
            return
        with cursor.cursor.copy(f"COPY usage_staging ({STAGING_COLUMNS}) FROM STDIN") as copy:
            copy.write("".join(chunk.rows))
        cursor.execute(self.fits)
        cursor.execute(STORE, self.params)
        accepted, unlicensed, rejected, errors = cursor.fetchone()
        result.add(accepted=accepted, rejected=rejected, unlicensed=unlicensed,
                   errors=[(int(line), message) for line, message in (errors or [])])  # fmt: skip

    def close(self) -> None:
        self.cursor.execute("RESET enable_mergejoin")
        self.cursor.execute("RESET work_mem")
        self.cursor.execute(f"DROP TABLE {', '.join(TEMPORARY_TABLES)}")


_DONE = object()


class QuickGilHandoff:
    """While at least one ingestion runs in the process, a thread holding the GIL gives it up within `interval`
    seconds when another wants it (Python's default: 5 ms). The storing thread needs the GIL for a moment after each
    of its statements, a few hundred per report, while the parsing thread is busy in Python: each wait is time
    PostgreSQL sits idle. Counted, so that overlapping ingestions (threaded servers, tests) restore the process's
    own interval when the last one ends, whatever happens in them."""

    def __init__(self, interval: float):
        self.interval = interval
        self.lock = threading.Lock()
        self.users = 0
        self.saved = 0.0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.users == 0:
                self.saved = sys.getswitchinterval()
                sys.setswitchinterval(self.interval)
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    sys.setswitchinterval(self.saved)


quick_gil_handoff = QuickGilHandoff(0.0002)


def ingest(body: bytes, content_type: str, *, period: dt.date, default_territory: str, report_id, licensee_id,
           late: bool) -> Result:  # fmt: skip
    """Parse and store a report, inside the caller's transaction (roll it back on BodyError: chunks may be stored).

    Both CPUs at work: a helper thread decodes and validates (Python) while this thread stores the chunks already
    validated (PostgreSQL resolving, covering and inserting them), so a report costs about the larger of the two,
    not their sum. The helper thread touches no database connection."""
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    language = translation.get_language()

    def produce() -> None:
        try:
            with translation.override(language):
                for chunk in parse_chunks(body, content_type, period=period, default_territory=default_territory):
                    while not stop.is_set():
                        try:
                            chunks.put(chunk, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            chunks.put(_DONE)
        except BaseException as exc:  # handed to the storing thread, which raises it
            chunks.put(exc)

    thread = threading.Thread(target=produce, name="usage-report-parse", daemon=True)
    result = Result()
    with quick_gil_handoff():
        thread.start()
        try:
            with connection.cursor() as cursor:
                stager = Stager(cursor, report_id=report_id, licensee_id=licensee_id, period=period, late=late)
                while (chunk := chunks.get()) is not _DONE:
                    if isinstance(chunk, BaseException):
                        raise chunk
                    result.received = chunk.received
                    result.add(rejected=chunk.rejected, errors=chunk.errors)
                    stager.store(chunk, result)
                stager.close()
        finally:
            stop.set()
            while thread.is_alive():  # let a producer blocked on a full queue see `stop`
                with contextlib.suppress(queue.Empty):
                    chunks.get(timeout=0.1)
            thread.join()
    return result
