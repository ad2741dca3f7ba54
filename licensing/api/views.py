"""Thin views: parse, call one selector or service, render. Visibility: `selectors`; rules: `services`."""

from __future__ import annotations

import uuid
from functools import cached_property

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from config.schema import problem_responses

from .. import selectors, services
from ..choices import AgreementStatus
from ..models import Agreement, ApiKey, Licensee, Reservation, RightsHolder, Work
from ..principals import Access
from . import presenters
from .serializers import (
    AgreementInput,
    AgreementOutput,
    AgreementPatchInput,
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    LicenseeInput,
    LicenseeKeyCreateInput,
    LicenseeOutput,
    ReservationInput,
    ReservationOutput,
    RightsHolderInput,
    RightsHolderOutput,
    WorkInput,
    WorkOutput,
)

READ = problem_responses(401, 403, 404)
WRITE = problem_responses(400, 401, 403, 404)


class LicensingView(GenericAPIView):
    serializer_class = None

    @cached_property
    def access(self) -> Access:
        return Access(self.request.user)

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise exceptions.PermissionDenied(_("Your key may not do this."))

    def parse(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def page(self, queryset, present) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(present(page))

    def get_visible(self, queryset, pk: str):
        try:
            key = uuid.UUID(str(pk))
        except ValueError:
            raise Http404 from None
        obj = queryset.filter(pk=key).first()
        if obj is None:
            raise Http404
        return obj


def _holder(pk, field: str) -> RightsHolder:
    holder = RightsHolder.objects.filter(pk=pk).first()
    if holder is None:
        raise ValidationError({field: [_("Unknown rights holder.")]})
    return holder


def _work(pk, field: str, queryset) -> Work:
    work = queryset.filter(pk=pk).first()
    if work is None:
        raise ValidationError({field: [_("Unknown work.")]})
    return work


# keys of the caller ------------------------------------------------------------------------------------------------
class MyKeysBase(LicensingView):
    def keys(self):
        access = self.access
        if access.is_licensee:
            return ApiKey.objects.filter(licensee=access.licensee)
        return selectors.api_key_list_for_user(user=self.request.user)


class MyKeysView(MyKeysBase):
    """The caller's own API keys (a user's, or its licensee's)."""

    @extend_schema(operation_id="me_keys_list", responses={200: ApiKeyOutput(many=True), **READ})
    def get(self, request: Request) -> Response:
        return self.page(self.keys().order_by("-created_at", "id"), lambda keys: ApiKeyOutput(keys, many=True).data)

    @extend_schema(
        operation_id="me_keys_create", request=ApiKeyCreateInput, responses={201: ApiKeyCreatedOutput, **WRITE}
    )
    def post(self, request: Request) -> Response:
        data = self.parse(ApiKeyCreateInput)
        expires_at = data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError({"expires_at": [_("The expiry must lie in the future.")]})
        owner = {"licensee": self.access.licensee} if self.access.is_licensee else {"user": request.user}
        api_key, key = services.api_key_create(name=data["name"], expires_at=expires_at, **owner)
        return Response(ApiKeyOutput(api_key).data | {"key": key}, status=status.HTTP_201_CREATED)


class MyKeyDetailView(MyKeysBase):
    @extend_schema(operation_id="me_keys_retrieve", responses={200: ApiKeyOutput, **READ})
    def get(self, request: Request, key_id) -> Response:
        return Response(ApiKeyOutput(self.get_visible(self.keys(), key_id)).data)

    @extend_schema(operation_id="me_keys_revoke", responses={204: OpenApiResponse(description="Revoked."), **READ})
    def delete(self, request: Request, key_id) -> Response:
        services.api_key_revoke(api_key=self.get_visible(self.keys(), key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# rights holders ----------------------------------------------------------------------------------------------------
class RightsHoldersBase(LicensingView):
    def present(self, holders):
        full = not self.access.is_licensee
        return [presenters.rights_holder(holder, full=full) for holder in holders]


class RightsHoldersView(RightsHoldersBase):
    @extend_schema(
        operation_id="rights_holders_list",
        parameters=[OpenApiParameter("search", str, description="Part of the name or kana name.")],
        responses={200: RightsHolderOutput(many=True), **READ},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.rights_holder_list(access=self.access)
        if request.query_params.get("search"):
            qs = selectors.rights_holder_search(qs, request.query_params["search"])
        return self.page(qs, self.present)

    @extend_schema(
        operation_id="rights_holders_create", request=RightsHolderInput, responses={201: RightsHolderOutput, **WRITE}
    )
    def post(self, request: Request) -> Response:
        self.require(self.access.can("licensing.add_rightsholder"))
        holder = services.rights_holder_create(data=self.parse(RightsHolderInput))
        return Response(presenters.rights_holder(holder, full=True), status=status.HTTP_201_CREATED)


class RightsHolderDetailView(RightsHoldersBase):
    @extend_schema(operation_id="rights_holders_retrieve", responses={200: RightsHolderOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        holder = self.get_visible(selectors.rights_holder_list(access=self.access), pk)
        return Response(self.present([holder])[0])

    @extend_schema(
        operation_id="rights_holders_update",
        request=RightsHolderInput(partial=True),
        responses={200: RightsHolderOutput, **WRITE},
    )
    def patch(self, request: Request, pk) -> Response:
        holder = self.get_visible(selectors.rights_holder_list(access=self.access), pk)
        self.require(self.access.can("licensing.change_rightsholder") or holder.pk in self.access.holder_ids)
        data = self.parse(RightsHolderInput, partial=True)
        if not self.access.is_staff:
            # what drives tax (kind, residency, country) is checked by the platform, not self-declared
            locked = sorted({"kind", "resident", "country"} & set(data))
            if locked:
                raise ValidationError({field: [_("Only platform staff can change this.")] for field in locked})
        holder = services.rights_holder_update(holder=holder, data=data)
        return Response(presenters.rights_holder(holder, full=True))


# works -------------------------------------------------------------------------------------------------------------
def _work_data(data: dict, works_qs) -> dict:
    if data.get("parent"):
        data["parent"] = _work(data["parent"], "parent", works_qs)
    if "shares" in data:
        data["shares"] = [
            {"rights_holder": _holder(item["rights_holder"], f"shares[{i}].rights_holder"), "share": item["share"]}
            for i, item in enumerate(data["shares"])
        ]
    return data


class WorksView(LicensingView):
    @extend_schema(
        operation_id="works_list",
        parameters=[
            OpenApiParameter("search", str, description="Part of the Japanese or English title, or a work reference."),
            OpenApiParameter(
                "identifier", str, description="A work reference: uuid, isbn:…, iscc:…, ext:<scheme>:<value>."
            ),
            OpenApiParameter(
                "rights_holder", uuid.UUID, description="Works owned (directly or inherited) by this holder."
            ),
        ],
        responses={200: WorkOutput(many=True), **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.work_list(access=self.access)
        params = request.query_params
        if params.get("search"):
            qs = selectors.work_search(qs, params["search"])
        if params.get("identifier"):
            condition = selectors.work_reference_filter(params["identifier"])
            if condition is None:
                raise ValidationError({"identifier": [_("Not a work reference.")]})
            qs = qs.filter(condition)
        if params.get("rights_holder"):
            try:
                holder = uuid.UUID(params["rights_holder"])
            except ValueError:
                raise ValidationError({"rights_holder": [_("Not a rights holder id.")]}) from None
            qs = qs.filter(pk__in=selectors.owned_work_ids_sql([holder]))
        return self.page(qs, presenters.works)

    @extend_schema(operation_id="works_create", request=WorkInput, responses={201: WorkOutput, **WRITE})
    def post(self, request: Request) -> Response:
        self.require(self.access.can("licensing.add_work") or self.access.is_holder)
        data = _work_data(self.parse(WorkInput), selectors.work_list(access=self.access))
        work = services.work_create(access=self.access, data=data)
        return Response(presenters.works([work])[0], status=status.HTTP_201_CREATED)


class WorkDetailView(LicensingView):
    @extend_schema(operation_id="works_retrieve", responses={200: WorkOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(presenters.works([self.get_visible(selectors.work_list(access=self.access), pk)])[0])

    @extend_schema(operation_id="works_update", request=WorkInput(partial=True), responses={200: WorkOutput, **WRITE})
    def patch(self, request: Request, pk) -> Response:
        visible = selectors.work_list(access=self.access)
        work = self.get_visible(visible, pk)
        self.require(self.access.can("licensing.change_work") or self.access.is_holder)
        data = _work_data(self.parse(WorkInput, partial=True), visible)
        work = services.work_update(access=self.access, work=work, data=data)
        return Response(presenters.works([work])[0])


# reservations ------------------------------------------------------------------------------------------------------
class ReservationsBase(LicensingView):
    def visible(self):
        self.require(not self.access.is_licensee)
        return selectors.reservation_list(access=self.access)


class ReservationsView(ReservationsBase):
    @extend_schema(operation_id="reservations_list", responses={200: ReservationOutput(many=True), **READ})
    def get(self, request: Request) -> Response:
        return self.page(self.visible(), lambda page: ReservationOutput(page, many=True).data)

    @extend_schema(
        operation_id="reservations_create", request=ReservationInput, responses={201: ReservationOutput, **WRITE}
    )
    def post(self, request: Request) -> Response:
        self.visible()
        data = self.parse(ReservationInput)
        # resolved among what the caller may see: another party's holder or work is as unknown as a missing one
        holder = selectors.rights_holder_list(access=self.access).filter(pk=data["rights_holder"]).first()
        if holder is None:
            raise ValidationError({"rights_holder": [_("Unknown rights holder.")]})
        self.require(self.access.can("licensing.add_reservation") or holder.pk in self.access.holder_ids)
        work = None
        if data.get("work"):
            condition = selectors.work_reference_filter(data["work"])
            visible = selectors.work_list(access=self.access)
            work = visible.filter(condition).first() if condition is not None else None
            if work is None:
                raise ValidationError({"work": [_("Unknown work.")]})
        reservation = services.reservation_create(rights_holder=holder, work=work, uses=data["uses"])
        return Response(ReservationOutput(reservation).data, status=status.HTTP_201_CREATED)


class ReservationDetailView(ReservationsBase):
    @extend_schema(operation_id="reservations_retrieve", responses={200: ReservationOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(ReservationOutput(self.get_visible(self.visible(), pk)).data)

    @extend_schema(operation_id="reservations_lift", responses={204: OpenApiResponse(description="Lifted."), **READ})
    def delete(self, request: Request, pk) -> Response:
        reservation: Reservation = self.get_visible(self.visible(), pk)
        self.require(
            self.access.can("licensing.change_reservation") or reservation.rights_holder_id in self.access.holder_ids
        )
        services.reservation_lift(reservation=reservation)
        return Response(status=status.HTTP_204_NO_CONTENT)


# licensees ---------------------------------------------------------------------------------------------------------
class LicenseesView(LicensingView):
    @extend_schema(operation_id="licensees_list", responses={200: LicenseeOutput(many=True), **READ})
    def get(self, request: Request) -> Response:
        self.require(self.access.is_staff or self.access.is_licensee)
        return self.page(selectors.licensee_list(access=self.access), lambda page: LicenseeOutput(page, many=True).data)

    @extend_schema(operation_id="licensees_create", request=LicenseeInput, responses={201: LicenseeOutput, **WRITE})
    def post(self, request: Request) -> Response:
        self.require(self.access.can("licensing.add_licensee"))
        licensee = services.licensee_create(**self.parse(LicenseeInput))
        return Response(LicenseeOutput(licensee).data, status=status.HTTP_201_CREATED)


class LicenseeDetailView(LicensingView):
    @extend_schema(operation_id="licensees_retrieve", responses={200: LicenseeOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(LicenseeOutput(self.get_visible(selectors.licensee_list(access=self.access), pk)).data)


class LicenseeKeysBase(LicensingView):
    def licensee(self, pk) -> Licensee:
        licensee = self.get_visible(selectors.licensee_list(access=self.access), pk)
        self.require(self.access.can("licensing.add_apikey"))
        return licensee


class LicenseeKeysView(LicenseeKeysBase):
    @extend_schema(operation_id="licensee_keys_list", responses={200: ApiKeyOutput(many=True), **READ})
    def get(self, request: Request, pk) -> Response:
        keys = ApiKey.objects.filter(licensee=self.licensee(pk)).order_by("-created_at", "id")
        return self.page(keys, lambda page: ApiKeyOutput(page, many=True).data)

    @extend_schema(
        operation_id="licensee_keys_create",
        request=LicenseeKeyCreateInput,
        responses={201: ApiKeyCreatedOutput, **WRITE},
    )
    def post(self, request: Request, pk) -> Response:
        licensee = self.licensee(pk)
        data = self.parse(LicenseeKeyCreateInput)
        if data.get("expires_at") is not None and data["expires_at"] <= timezone.now():
            raise ValidationError({"expires_at": [_("The expiry must lie in the future.")]})
        api_key, key = services.api_key_create(name=data["name"], licensee=licensee, expires_at=data.get("expires_at"))
        return Response(ApiKeyOutput(api_key).data | {"key": key}, status=status.HTTP_201_CREATED)


class LicenseeKeyDetailView(LicenseeKeysBase):
    @extend_schema(
        operation_id="licensee_keys_revoke", responses={204: OpenApiResponse(description="Revoked."), **READ}
    )
    def delete(self, request: Request, pk, key_id) -> Response:
        licensee = self.licensee(pk)
        services.api_key_revoke(api_key=self.get_visible(ApiKey.objects.filter(licensee=licensee), key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# agreements --------------------------------------------------------------------------------------------------------
def _agreement_data(data: dict) -> dict:
    if "licensee" in data:
        licensee = Licensee.objects.filter(pk=data["licensee"]).first()
        if licensee is None:
            raise ValidationError({"licensee": [_("Unknown licensee.")]})
        data["licensee"] = licensee
    if "scope" in data:
        scope = dict(data["scope"])
        works = list(Work.objects.filter(pk__in=scope.get("works") or []))
        holders = list(RightsHolder.objects.filter(pk__in=scope.get("rights_holders") or []))
        missing_works = set(scope.get("works") or []) - {w.pk for w in works}
        missing_holders = set(scope.get("rights_holders") or []) - {h.pk for h in holders}
        errors = {}
        if missing_works:
            errors["scope.works"] = [
                _("Unknown work(s): %(ids)s") % {"ids": ", ".join(map(str, sorted(missing_works)))[:500]}
            ]
        if missing_holders:
            errors["scope.rights_holders"] = [
                _("Unknown rights holder(s): %(ids)s") % {"ids": ", ".join(map(str, sorted(missing_holders)))[:500]}
            ]
        if errors:
            raise ValidationError(errors)
        scope["works"], scope["rights_holders"] = works, holders
        data["scope"] = scope
    if "terms" in data:
        data["terms"] = [dict(term) for term in data["terms"]]
    if "currency" in data:
        data["currency"] = data["currency"].upper()
    return data


class AgreementsView(LicensingView):
    @extend_schema(
        operation_id="agreements_list",
        parameters=[OpenApiParameter("licensee", uuid.UUID), OpenApiParameter("status", str)],
        responses={200: AgreementOutput(many=True), **READ},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.agreement_list(access=self.access)
        if request.query_params.get("status"):
            if request.query_params["status"] not in AgreementStatus.values:
                raise ValidationError({"status": [_("Unknown status.")]})
            qs = qs.filter(status=request.query_params["status"])
        if request.query_params.get("licensee"):
            try:
                qs = qs.filter(licensee_id=uuid.UUID(request.query_params["licensee"]))
            except ValueError:
                raise ValidationError({"licensee": [_("Not a licensee id.")]}) from None
        return self.page(qs, presenters.agreements)

    @extend_schema(operation_id="agreements_create", request=AgreementInput, responses={201: AgreementOutput, **WRITE})
    def post(self, request: Request) -> Response:
        self.require(self.access.can("licensing.add_agreement"))
        agreement = services.agreement_create(data=_agreement_data(self.parse(AgreementInput)))
        return Response(presenters.agreements([agreement])[0], status=status.HTTP_201_CREATED)


class AgreementDetailView(LicensingView):
    @extend_schema(operation_id="agreements_retrieve", responses={200: AgreementOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(presenters.agreements([self.get_visible(selectors.agreement_list(access=self.access), pk)])[0])

    @extend_schema(
        operation_id="agreements_update",
        request=AgreementPatchInput(partial=True),
        responses={200: AgreementOutput, **WRITE},
    )
    def patch(self, request: Request, pk) -> Response:
        agreement: Agreement = self.get_visible(selectors.agreement_list(access=self.access), pk)
        self.require(self.access.can("licensing.change_agreement"))
        data = self.parse(AgreementPatchInput, partial=True)
        effective_from = data.pop("effective_from", None)
        agreement = services.agreement_update(
            agreement=agreement, data=_agreement_data(data), effective_from=effective_from
        )
        return Response(presenters.agreements([agreement])[0])
