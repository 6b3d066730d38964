"""The webhook rules in the domain: event-type patterns, the fields filter, signatures and
rotation, retries and disabling, and the addresses no webhook may reach."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from crm.domain.errors import InvalidInput
from crm.domain.model.webhook_deliveries import (
    AttemptResult,
    DeliveryStatus,
    Outcome,
    RetryPolicy,
    WebhookDelivery,
    signature,
)
from crm.domain.model.webhook_targets import TargetPolicy, WebhookUrlRefused, refusal
from crm.domain.model.webhooks import (
    WebhookSubscription,
    known_topics,
    parse_subscription,
    patterns_matching,
)
from crm.settings import Environment, Settings
from tests.support.event_world import event

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def subscription(**fields: object) -> WebhookSubscription:
    values: dict[str, object] = {
        "id": uuid4(),
        "workspace_id": uuid4(),
        "url": "https://hooks.example.com/",
        "event_types": ("*",),
        "fields": None,
        "description": None,
        "secret": "whsec_now",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return WebhookSubscription(**values)  # type: ignore[arg-type]


# --- event types ------------------------------------------------------------------------------


def test_every_recorded_topic_its_prefixes_and_star_are_accepted() -> None:
    topics = sorted(known_topics())
    assert {"contact.updated", "deal.moved", "webhook_subscription.disabled"} <= set(topics)
    prefixes = sorted({t.split(".")[0] + ".*" for t in topics})
    for patterns in (topics[:25], topics[25:], [*prefixes, "*", "*"]):
        parsed = parse_subscription({"url": "x", "event_types": patterns}, creating=True)
        assert parsed["event_types"] == tuple(dict.fromkeys(patterns))  # duplicates once


@pytest.mark.parametrize(
    "pattern",
    [
        "contact.exploded",
        "nope.*",
        "Contact.created",
        "contact.",
        "contact",
        "ping",
        "",
        "**",
        "contact.*.*",
        " contact.created",
        "contact.created.*",
        ".*",
    ],
)
def test_a_pattern_matching_no_recorded_topic_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_subscription({"url": "x", "event_types": ["deal.moved", pattern]}, creating=True)
    (error,) = refused.value.errors
    assert (error.field, error.code) == ("/event_types/1", "unknown_event_type")


def test_patterns_matching_a_topic_are_star_each_prefix_and_itself() -> None:
    assert patterns_matching("contact.updated") == ["*", "contact.*", "contact.updated"]


# --- the fields filter ------------------------------------------------------------------------


def test_fields_filter_only_events_that_record_changes() -> None:
    s = subscription(event_types=("contact.*",), fields=("email", "custom_fields.plan"))
    assert s.wants("contact.created", None)
    assert not s.wants("deal.moved", None)
    assert s.wants("contact.updated", {"email": {"old": "a", "new": "b"}})
    assert not s.wants("contact.updated", {"first_name": {"old": "a", "new": "b"}})
    plan = {"custom_fields": {"old": {"plan": "free", "x": 1}, "new": {"plan": "pro", "x": 1}}}
    other = {"custom_fields": {"old": {"plan": "free", "x": 1}, "new": {"plan": "free", "x": 2}}}
    assert s.wants("contact.updated", plan)
    assert not s.wants("contact.updated", other)
    assert subscription(event_types=("contact.*",)).wants("contact.updated", other)


@pytest.mark.parametrize(
    ("raw", "pointer", "code"),
    [
        ({"fields": []}, "/fields", "invalid_list"),
        ({"fields": ["Email"]}, "/fields/0", "invalid_field_name"),
        ({"fields": ["a.b.c"]}, "/fields/0", "invalid_field_name"),
        ({"fields": [3]}, "/fields/0", "invalid_type"),
        ({"event_types": "contact.*"}, "/event_types", "invalid_list"),
        ({"enabled": "yes"}, "/enabled", "invalid_type"),
        ({"secret": "whsec_mine"}, "/secret", "unknown_field"),
        ({"description": "x" * 501}, "/description", "invalid_description"),
    ],
)
def test_bad_fields_are_named(raw: dict[str, object], pointer: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_subscription(raw, creating=False)
    assert [(e.field, e.code) for e in refused.value.errors] == [(pointer, code)]


# --- signatures and rotation --------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_t_dot_body_keyed_by_the_whole_secret() -> None:
    body = b'{"id":"1"}'
    header = signature(["whsec_a"], body, 1_700_000_000)
    expected = hmac.new(b"whsec_a", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_after_a_rotation_both_secrets_sign_for_24_hours() -> None:
    s = subscription()
    s.rotate("whsec_new", T0)
    assert s.version == 2
    assert s.signing_secrets(T0 + timedelta(hours=23, minutes=59)) == ["whsec_new", "whsec_now"]
    assert s.signing_secrets(T0 + timedelta(hours=24)) == ["whsec_new"]
    header = signature(s.signing_secrets(T0), b"{}", 1)
    assert header.count("v1=") == 2
    s.rotate("whsec_third", T0 + timedelta(hours=1))
    assert s.signing_secrets(T0 + timedelta(hours=2)) == ["whsec_third", "whsec_new"]


# --- retries, giving up, disabling -------------------------------------------------------------


def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=10, cap_seconds=3600)
    assert policy.delay(1, 0.999).total_seconds() == pytest.approx(9.99)
    assert policy.delay(4, 0.5).total_seconds() == 40
    assert policy.delay(30, 0.999).total_seconds() == pytest.approx(3596.4)
    assert policy.delay(3, 0.0).total_seconds() == 1  # never at once
    draws = [policy.delay(5, random.random()).total_seconds() for _ in range(200)]
    assert 1 <= min(draws) < 40
    assert 120 < max(draws) <= 160


def test_a_failing_delivery_retries_until_its_window_ends_then_fails() -> None:
    policy = RetryPolicy(base_seconds=10, cap_seconds=4 * 3600, window=timedelta(hours=24))
    s = subscription()
    d = WebhookDelivery.new(uuid4(), s, event(), "{}", T0, policy.window)
    at, tries = T0, 0
    while d.status is DeliveryStatus.PENDING:
        assert d.next_attempt_at is not None
        assert d.next_attempt_at >= at
        at = d.next_attempt_at
        assert d.record(AttemptResult(503, 5), at, policy, 0.9) is Outcome.FAILURE
        tries += 1
    assert at == T0 + timedelta(hours=24)  # the last attempt lands at the window's end
    assert (d.status, d.next_attempt_at, d.attempts, d.error) == (
        DeliveryStatus.FAILED,
        None,
        tries,
        "HTTP 503",
    )
    assert tries > 10


@pytest.mark.parametrize(
    ("result", "outcome", "error"),
    [
        (AttemptResult(200, 3), Outcome.SUCCESS, None),
        (AttemptResult(204, 3), Outcome.SUCCESS, None),
        (AttemptResult(299, 3), Outcome.SUCCESS, None),
        (AttemptResult(410, 3), Outcome.GONE, "HTTP 410 Gone: the subscription was disabled"),
        (AttemptResult(301, 3), Outcome.FAILURE, "HTTP 301: redirects are not followed"),
        (AttemptResult(308, 3), Outcome.FAILURE, "HTTP 308: redirects are not followed"),
        (AttemptResult(404, 3), Outcome.FAILURE, "HTTP 404"),
        (
            AttemptResult(None, 10_000, "timed out after 10 s"),
            Outcome.FAILURE,
            "timed out after 10 s",
        ),
    ],
)
def test_outcomes(result: AttemptResult, outcome: Outcome, error: str | None) -> None:
    assert (result.outcome, result.explanation) == (outcome, error)


def test_a_subscription_failing_for_3_days_since_its_last_success_is_disabled() -> None:
    s = subscription()
    after = timedelta(days=3)
    assert not s.record_failure(T0, after)
    assert not s.record_failure(T0 + timedelta(days=2), after)
    s.record_success()
    assert not s.record_failure(T0 + timedelta(days=3), after)  # counts from here again
    assert not s.record_failure(T0 + timedelta(days=5, hours=23), after)
    assert s.record_failure(T0 + timedelta(days=6), after)
    assert (s.enabled, s.disabled_reason, s.version) == (False, "failing", 2)
    assert not s.record_failure(T0 + timedelta(days=7), after)  # disabled once
    s.apply({"enabled": True}, T0 + timedelta(days=8))
    assert (s.enabled, s.disabled_reason, s.failing_since) == (True, None, None)


# --- where webhooks may go ---------------------------------------------------------------------

REFUSED_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "::1/128",
    "::/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "::ffff:7f00:0/104",
    "2001:db8::/32",
    "::ffff:a00:0/104",
    "::ffff:a9fe:0/112",
    "64:ff9b::a00:0/120",
]


def _samples(network: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    rng = random.Random(network)
    inside = [net.network_address + rng.randrange(net.num_addresses) for _ in range(5)]
    return [net.network_address, net.broadcast_address, *inside]


@pytest.mark.parametrize("network", REFUSED_NETWORKS)
def test_every_address_of_an_internal_network_is_refused(network: str) -> None:
    for address in _samples(network):
        assert refusal(address) is not None, address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.0.10", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("fd00:ec2::254", "the cloud metadata address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "the cloud metadata address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("224.0.0.251", "a multicast address"),
    ],
)
def test_refusals_say_what_the_address_is(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.example.com/", "invalid_url"),
        ("https:///nohost", "invalid_url"),
        ("https://user:pw@hooks.example.com/", "invalid_url"),
        ("https://hooks.example.com/#frag", "invalid_url"),
        ("https://hooks.example.com/a b", "invalid_url"),
        ("https://hooks.example.com:99999/", "invalid_url"),
        ("https://hooks.example.com/" + "a" * 2048, "invalid_url"),
        ("http://hooks.example.com/", "https_required"),
        ("https://127.0.0.1/", "address_refused"),
        ("https://[::ffff:127.0.0.1]/", "address_refused"),
        ("https://[::1]:8443/", "address_refused"),
        ("https://0.0.0.0/", "address_refused"),
    ],
)
def test_urls_are_checked(url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        TargetPolicy().check_url(url)
    assert [(e.field, e.code) for e in refused.value.errors] == [("/url", code)]
    if code != "invalid_url":
        assert isinstance(refused.value, WebhookUrlRefused)
        assert refused.value.code == "webhook_url_refused"


def test_private_targets_and_http_where_allowed() -> None:
    assert TargetPolicy(allow_private=True).check_url("http://127.0.0.1:9/h").port == 9
    assert TargetPolicy(allow_http=True).check_url("http://hooks.example.com/").port == 80
    target = TargetPolicy().check_url("https://Bücher.example/hook")
    assert (target.host, target.port) == ("xn--bcher-kva.example", 443)


def test_private_webhook_targets_are_refused_in_production() -> None:
    production = {
        "env": Environment.PRODUCTION,
        "secret_key": "s" * 40,
        "database_url": "postgresql+asyncpg://crm@db/crm",
        "mailchimp_api_key": "md-key",
    }
    assert not Settings(_env_file=None, **production).webhook_allow_private  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CRM_WEBHOOK_ALLOW_PRIVATE"):
        Settings(_env_file=None, webhook_allow_private=True, **production)  # type: ignore[arg-type]
