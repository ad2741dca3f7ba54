# ruff: noqa: F811  (pytest fixtures imported from other test modules are redefined as parameters)
"""Fuzz the payout endpoints (issue 7) from the served schema with schemathesis, in-process over WSGI, as a finance
user: creating, reading, exporting, confirming and cancelling batches, listing and returning transfers, and the
finance reports. Whatever the
input: no 5xx, and a status, content type and body that the schema documents. See test_schemathesis.py for the
machinery and why some checks are off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import given
from schemathesis.errors import FailureGroup

from licensing.roles import FINANCE, role_group
from licensing.services import api_key_create
from payouts import batches
from tests.payouts.test_batches import REQUESTER, two_final_months  # noqa: F401
from tests.payouts.test_engine import world  # noqa: F401

from .test_schemathesis import FUZZ_SETTINGS, NEGATIVE, POSITIVE, fuzz_config

pytestmark = pytest.mark.django_db

JSON = "application/json"
OPERATIONS = [
    "payout_batches_create",
    "payout_batches_list",
    "payout_batches_retrieve",
    "payout_batches_confirm",
    "payout_batches_cancel",
    "payout_batches_zengin",
    "payout_batches_transfer_list",
    "payouts_list",
    "payouts_return",
    "withholding_remittances_create",
]
REPORTS = [
    "ledger_trial_balance",
    "ledger_trial_balance_csv",
    "reports_reconciliation",
    "reports_reconciliation_csv",
    "reports_withholding",
    "reports_withholding_csv",
    "reports_payment_summary",
    "reports_payment_summary_csv",
]
# negative cases only where a body can be invalid (a path id is any string without "/")
FUZZ = [(op, POSITIVE) for op in OPERATIONS + REPORTS] + [
    (op, NEGATIVE) for op in ["payout_batches_create", "payouts_return", "withholding_remittances_create", *REPORTS]
]


@pytest.fixture
def payout_world(world, two_final_months, settings):
    settings.ZENGIN_REQUESTER = dict(REQUESTER)
    user = get_user_model().objects.create_user("finance", "f@example.com", "pw-finance-123", is_staff=True)
    user.groups.add(role_group(FINANCE))
    _, key = api_key_create(name="fuzz", user=user)
    pay_date = timezone.localdate() + dt.timedelta(days=3)
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_date)
    return {"key": key, "batch": str(batch.pk), "item": batch.items.first().pk, "pay_date": pay_date.isoformat()}


@pytest.fixture
def wsgi(payout_world):
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield WSGIHandler()
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi, payout_world):
    config = fuzz_config({"refs": ["unknown"]})
    config["dictionaries"].update(
        {
            "pay_dates": {"values": [payout_world["pay_date"], "2020-01-01"]},
            "currencies": {"values": ["JPY", "USD", "jpy"]},
            "reasons": {"values": ["口座解約", " "]},
        }
    )
    config["parameters"].update(
        {
            "body.pay_date": {"dictionary": "pay_dates", "probability": 0.7},
            "body.currency": {"dictionary": "currencies", "probability": 0.7},
            "body.returned_on": {"dictionary": "pay_dates", "probability": 0.5},
            "body.reason": {"dictionary": "reasons", "probability": 0.3},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi, config=schemathesis.Config.from_dict(config))


@pytest.fixture
def auth(payout_world) -> dict[str, str]:
    return {"Authorization": f"Bearer {payout_world['key']}"}


@pytest.mark.parametrize(("operation_id", "source"), FUZZ, ids=[f"{op}-{source}" for op, source in FUZZ])
def test_fuzzed_payout_requests_get_documented_answers(api_schema, payout_world, auth, operation_id, source):
    operation = api_schema.find_operation_by_id(operation_id)
    strategy = operation.as_strategy(generation_mode=source)
    names = re.findall(r"\{(\w+)\}", operation.path)
    if names:  # mostly unknown ids (404), sometimes the real batch or transfer
        real = payout_world["item"] if operation_id == "payouts_return" else payout_world["batch"]
        strategy |= operation.as_strategy(generation_mode=source, path_parameters={names[0]: str(real)})
    if operation.body:
        strategy = strategy.filter(lambda case: case.media_type == JSON)

    @FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case):
        case.call_and_validate(headers=auth)

    fuzz()


@pytest.mark.parametrize("operation_id", OPERATIONS + REPORTS)
def test_boundary_payout_requests_get_documented_answers(api_schema, auth, operation_id):
    operation = api_schema.find_operation_by_id(operation_id)
    cases = list(
        api_schema.iter_coverage_cases(
            operation,
            generation_modes=[POSITIVE, NEGATIVE],
            generation_config=api_schema.config.generation_for(operation=operation, phase="coverage"),
        )
    )
    assert cases
    failures: list[str] = []
    for case in cases:
        try:
            case.call_and_validate(headers=auth)
        except FailureGroup as exc:
            failures.append(str(exc))
    if failures:
        report = "\n\n".join(dict.fromkeys(failures))
        pytest.fail(f"{len(failures)} of {len(cases)} boundary requests failed:\n\n{report}", pytrace=False)
