"""Bulk import of works with their shares from CSV or XLSX, through the admin's Import button on the works list.

import-export gives the upload, the dry-run preview and the confirm step; every rule stays in
`services.work_create` / `services.work_update`, which this module only feeds. The dry run really calls the services
inside a transaction that is rolled back, so the preview shows exactly the errors the real import would meet.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils.translation import gettext as _
from import_export import resources
from import_export.fields import Field

from . import selectors, services
from .choices import WorkKind
from .models import RightsHolder, Work, WorkIdentifier
from .principals import Access

COLUMNS = ("id", "title", "title_en", "kind", "parent", "isbn", "iscc", "ext", "shares")
# Deferred constraint triggers a row's writes must satisfy before the next row (otherwise COMMIT would fail).
DEFERRED_CONSTRAINTS = ("licensing_share_sum_100",)
_LIST_SEPARATORS = re.compile(r"[;\n]")
_INDEXED = re.compile(r"^(?P<base>[a-z_.]+)\[(?P<index>\d+)\]")


def _text(value: Any) -> str:
    """A cell as text: XLSX gives numbers (an ISBN typed as a number) and None for empty cells."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# what the preview shows for a work (before and after the row) ----------------------------------------------------
def _saved(work: Work) -> bool:
    return not work._state.adding


def _show_id(work: Work) -> str:
    return str(work.pk) if _saved(work) else ""


def _show_parent(work: Work) -> str:
    return work.parent.title if work.parent_id else ""


def _show_ext(work: Work) -> str:
    if not _saved(work):
        return ""
    pairs = work.external_ids.order_by("scheme", "value").values_list("scheme", "value")
    return "; ".join(f"{scheme}:{value}" for scheme, value in pairs)


def _show_shares(work: Work) -> str:
    if not _saved(work):
        return ""
    return "; ".join(f"{s.rights_holder.name}={s.share}" for s in work.shares.select_related("rights_holder"))


def _attribute(name: str):
    return lambda work: getattr(work, name) or ""


class _Column(Field):
    """A column of the file. WorkResource parses the row itself; the field only names the column and renders a
    work for the preview's diff."""

    def __init__(self, column_name: str, render) -> None:
        super().__init__(attribute=column_name, column_name=column_name)
        self.render_work = render

    def get_value(self, instance):
        return self.render_work(instance)

    def export(self, instance, **kwargs):
        return self.render_work(instance)


class WorkResource(resources.ModelResource):
    """Works with their identifiers and shares, one work per row. The header names are these (case and surrounding
    spaces are ignored; any other column is an error); empty rows are skipped.

    - `id`: optional. A work you may see → that work is updated (only the columns present in the file change);
      empty or unknown → a new work is created (with a new id).
    - `title`: required.
    - `title_en`: optional English title.
    - `kind`: required for a new work; one of manga_series, manga_volume, anime_series, anime_episode,
      illustration, character, other (or its label).
    - `parent`: optional work reference: a work id, `isbn:…`, `iscc:…` or `ext:<scheme>:<value>`, among the works
      you may see, including works created by earlier rows of the same file.
    - `isbn`, `iscc`: optional identifiers (ISBN-10 or ISBN-13, hyphens allowed; ISCC with or without `ISCC:`).
    - `ext`: optional `scheme:value` pairs separated by `;`, e.g. `shueisha:SJ-001; jan:4901234567894`.
    - `shares`: `<rights holder id or exact name>=<percentage>` separated by `;`, e.g.
      `株式会社ひかり出版=60.00; 山田太郎=40.00`, summing to exactly 100.00. Empty only with a `parent`: the work
      then inherits the parent's shares.

    A rights holder's user may only import works in which one of its own rights holders has a share (directly or
    through the parent). Errors are listed per row, under the column they concern.
    """

    id = _Column("id", _show_id)
    title = _Column("title", _attribute("title"))
    title_en = _Column("title_en", _attribute("title_en"))
    kind = _Column("kind", _attribute("kind"))
    parent = _Column("parent", _show_parent)
    isbn = _Column("isbn", _attribute("isbn"))
    iscc = _Column("iscc", _attribute("iscc"))
    ext = _Column("ext", _show_ext)
    shares = _Column("shares", _show_shares)

    class Meta:
        model = Work
        fields = COLUMNS
        import_order = COLUMNS
        use_transactions = True  # the dry run calls the services, which write; the transaction is rolled back
        clean_model_instances = False  # the services validate
        skip_unchanged = False

    def __init__(self, *, access: Access | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.access = access
        self._holders: dict[str, RightsHolder | str] = {}
        self._header_errors: list[str] = []
        self._pending: dict[str, Any] | None = None
        self._entries: dict[str, list[str]] = {"shares": [], "ext": []}
        self._blank = False

    # import-export hooks -----------------------------------------------------------------------------------------
    def before_import(self, dataset, **kwargs):
        if self.access is None:
            self.access = Access(kwargs.get("user"))
        self._holders, self._header_errors = {}, []
        headers = [_text(header).lstrip("\ufeff").strip().lower() for header in dataset.headers or []]
        if dataset.headers:
            dataset.headers = headers
        named = [header for header in headers if header]
        unknown = sorted({header for header in named if header not in COLUMNS})
        twice = sorted({header for header in named if named.count(header) > 1})
        if unknown:
            self._header_errors.append(
                _("Unknown column(s): %(unknown)s. The columns are: %(columns)s.")
                % {"unknown": ", ".join(unknown), "columns": ", ".join(COLUMNS)}
            )
        if twice:
            self._header_errors.append(_("Column(s) given twice: %(columns)s.") % {"columns": ", ".join(twice)})

    def get_queryset(self):
        return selectors.work_list(access=self._access())

    def get_instance(self, instance_loader, row):
        pk = _uuid(_text(row.get("id")))
        if pk is None:
            return None
        return self.get_queryset().filter(pk=pk).first()

    def import_instance(self, instance, row, **kwargs):
        """Parse the row into the services' input; raise the row's problems as field errors."""
        self._pending, self._blank = None, False
        self._entries = {"shares": [], "ext": []}
        cells = {name: _text(row[name]) for name in COLUMNS if name in row}
        if not any(cells.values()):
            self._blank = True
            return
        errors: dict[str, list[str]] = {}

        def add(column: str, message: str) -> None:
            errors.setdefault(column, []).append(message)

        for message in self._header_errors:
            add(NON_FIELD_ERRORS, message)
        access = self._access()
        new = instance._state.adding
        if not (access.is_staff or access.is_holder):
            add(NON_FIELD_ERRORS, _("You may not import works."))
        elif not new and access.is_staff and not access.can("licensing.change_work"):
            add(NON_FIELD_ERRORS, _("You may not change existing works."))
        if new and cells.get("id") and _uuid(cells["id"]) is None:
            add("id", _("A work id is a UUID; leave it empty to create a work."))

        data: dict[str, Any] = {}
        for name in ("title", "title_en"):
            if name in cells:
                limit = Work._meta.get_field(name).max_length
                if len(cells[name]) > limit:
                    add(name, _("At most %(limit)d characters.") % {"limit": limit})
                data[name] = cells[name]
        if "kind" in cells or new:
            kind = self._kind(cells.get("kind", ""))
            if kind is None:
                add("kind", _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(WorkKind.values)})
            data["kind"] = kind
        if "parent" in cells:
            data["parent"] = self._parent(cells["parent"], add)
        identifiers: dict[str, Any] = {name: cells[name] or None for name in ("isbn", "iscc") if name in cells}
        if "ext" in cells:
            identifiers["ext"] = self._ext(cells["ext"], add)
        if identifiers:
            data["identifiers"] = identifiers
        if "shares" in cells or new:
            data["shares"] = self._shares(cells.get("shares", ""), add)
        if errors:
            raise ValidationError(errors)
        self._pending = data

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return self._blank

    def save_instance(self, instance, is_create, row, **kwargs):
        """Create or update through the services, in a savepoint that a refused row rolls back."""
        if self._pending is None:
            return
        if not self._is_using_transactions(kwargs) and self._is_dry_run(kwargs):
            return  # never: PostgreSQL has transactions, and Meta.use_transactions asks for them
        access = self._access()
        using = self.get_db_connection_name()
        try:
            with transaction.atomic(using=using):
                if is_create:
                    work = services.work_create(access=access, data=self._pending)
                else:
                    work = services.work_update(access=access, work=instance, data=self._pending)
                _check_deferred_constraints(using)
        except ValidationError as exc:
            raise _row_errors(exc, self._entries) from exc
        except IntegrityError as exc:
            raise _row_errors(_database_refusal(exc), self._entries) from exc
        except DatabaseError as exc:
            raise ValidationError(
                {NON_FIELD_ERRORS: [_("The database refused this row (is a value too long?).")]}
            ) from exc
        instance.pk = work.pk
        instance.refresh_from_db()
        instance._state.adding = False

    # parsing -----------------------------------------------------------------------------------------------------
    def _access(self) -> Access:
        if self.access is None:
            self.access = Access(None)
        return self.access

    @staticmethod
    def _kind(text: str) -> str | None:
        key = text.strip().lower()
        if not key:
            return None
        for value, label in WorkKind.choices:
            if key in (value, value.replace("_", " "), str(label).lower()):
                return value
        return None

    def _parent(self, text: str, add) -> Work | None:
        if not text:
            return None
        condition = selectors.work_reference_filter(text)
        if condition is None:
            add("parent", _("%(value)s is not a work reference (id, isbn:…, iscc:… or ext:…).") % {"value": text})
            return None
        parent = self.get_queryset().filter(condition).first()
        if parent is None:
            add("parent", _("Unknown parent work: %(value)s.") % {"value": text})
        return parent

    def _ext(self, text: str, add) -> list[dict[str, str]]:
        pairs = []
        scheme_limit = WorkIdentifier._meta.get_field("scheme").max_length
        value_limit = WorkIdentifier._meta.get_field("value").max_length
        for part in filter(None, (p.strip() for p in _LIST_SEPARATORS.split(text))):
            scheme, sep, value = part.partition(":")
            scheme, value = scheme.strip(), value.strip()
            if not sep or not scheme or not value:
                add("ext", _("“%(part)s”: write an identifier as scheme:value.") % {"part": part})
            elif len(scheme) > scheme_limit or len(value) > value_limit:
                add("ext", _("“%(part)s”: the scheme or the value is too long.") % {"part": part})
            else:
                pairs.append({"scheme": scheme, "value": value})
                self._entries["ext"].append(part)
        return pairs

    def _shares(self, text: str, add) -> list[dict[str, Any]]:
        shares = []
        for part in filter(None, (p.strip() for p in _LIST_SEPARATORS.split(text))):
            name, sep, amount = part.rpartition("=")
            name, amount = name.strip(), amount.strip().rstrip("%％").strip()
            if not sep or not name or not amount:
                add("shares", _("“%(part)s”: write a share as <rights holder>=<percentage>.") % {"part": part})
                continue
            try:
                share = Decimal(amount)
            except InvalidOperation:
                share = None
            if share is None or not share.is_finite():
                add("shares", _("“%(part)s”: %(amount)s is not a percentage.") % {"part": part, "amount": amount})
                continue
            holder = self._holder(name)
            if isinstance(holder, str):
                add("shares", holder)
                continue
            shares.append({"rights_holder": holder, "share": share})
            self._entries["shares"].append(part)
        return shares

    def _holder(self, text: str) -> RightsHolder | str:
        """The rights holder with this id or exactly this name, or why there is none."""
        if text not in self._holders:
            pk = _uuid(text)
            found = list(RightsHolder.objects.filter(pk=pk)) if pk else []
            if not found:
                found = list(RightsHolder.objects.filter(name=text)[:2])
            if len(found) == 1:
                self._holders[text] = found[0]
            elif found:
                self._holders[text] = _("Several rights holders are named %(name)s; use the rights holder's id.") % {
                    "name": text
                }
            else:
                self._holders[text] = _("Unknown rights holder: %(name)s.") % {"name": text}
        return self._holders[text]


def _check_deferred_constraints(using: str) -> None:
    """Fire the deferred constraint triggers now, inside the row's savepoint, so that a row breaking them becomes
    a row error instead of a failed COMMIT (a server error) at the end of the import."""
    names = ", ".join(DEFERRED_CONSTRAINTS)
    with connections[using].cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


def _database_refusal(exc: IntegrityError) -> ValidationError:
    """services._integrity names the field from the error text; a trigger's constraint name is not in the text
    but in the error's diagnostics, so put it there."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    return services.integrity_error(IntegrityError(f"{constraint}: {exc}"))


def _column_of(field: str) -> str:
    """A service's field name (`identifiers.isbn`, `shares[1].share`) → the file's column."""
    base = field.split("[", 1)[0]
    if base.startswith("identifiers."):
        base = base.removeprefix("identifiers.")
    return base if base in COLUMNS else NON_FIELD_ERRORS


def _row_errors(exc: ValidationError, entries: dict[str, list[str]]) -> ValidationError:
    """The services' errors, keyed by the file's columns; an error about one entry of a list names the entry."""
    if not hasattr(exc, "error_dict"):
        return ValidationError({NON_FIELD_ERRORS: exc.messages})
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        column = _column_of(field)
        match = _INDEXED.match(field)
        for message in messages:
            index = int(match["index"]) if match else None
            if index is not None and index < len(entries.get(column, ())):
                message = _("“%(entry)s”: %(message)s") % {"entry": entries[column][index], "message": message}
            errors.setdefault(column, []).append(message)
    return ValidationError(errors)
