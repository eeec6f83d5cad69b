"""Budget alerts: checked when an upload lands (nothing polls), delivered after the answer.

``check`` runs after the upload's transaction has committed. For each budget of the uploader
and of their teams it works out where the current period stands; for each threshold crossed it
claims the alert (a row unique by budget, period and threshold: see ``queries.alerts``) and
only a claim that made the row gives a ``Message`` to deliver. ``deliver`` sends messages
outside the request (a background task, once the answer is out), tries each up to
``1 + len(Settings.alert_retry_delays)`` times, waiting those delays in between, and logs every
attempt in the ``delivery`` table.

Channels:
- webhook ``slack`` (``{"text"}``), ``discord`` (``{"content"}``) and ``json`` (the figures;
  with a secret, ``X-Promptpulse-Signature: sha256=<HMAC-SHA256 of the raw body>``), posted
  with httpx, without following redirects;
- e-mail over SMTP (``PROMPTPULSE_SMTP_URL``: ``smtp://user:pass@host:port``, STARTTLS when
  the server offers it, or ``smtps://``), from ``PROMPTPULSE_MAIL_FROM``, with smtplib.

On a server with open sign-up a webhook may not point at a private, loopback, link-local or
otherwise non-public address (unless ``PROMPTPULSE_ALLOW_PRIVATE_WEBHOOKS=1``): checked when a
budget is saved, and again on the addresses the host resolves to when it is sent. Errors name
what failed (a status, a host, an exception's kind), never a secret, a password or a URL's
credentials.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from promptpulse_server import metrics, queries, schemas
from promptpulse_server.models import Budget, User
from promptpulse_server.settings import Settings

alerts_q = queries.alerts
TIMEOUT_S = 10.0
SIGNATURE = "X-Promptpulse-Signature"
WINDOWS = {"five_hour": "5-hour", "seven_day": "7-day"}
PERIODS = {"day": "daily", "week": "weekly", "month": "monthly"}


class DeliveryError(Exception):
    """A delivery failed; the message is safe to store and show (no secrets)."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Message:
    """One alert (or test) to deliver through a budget's channel."""

    budget_id: int | None
    alert_id: int | None
    channel: dict[str, Any]
    payload: dict[str, Any]  # the generic JSON body
    text: str  # one line for Slack, Discord and the e-mail's subject
    digest_id: int | None = None  # a spike through a digest's channel: the digest
    spike_id: int | None = None  # … and its claim


# --- what crossed --------------------------------------------------------------------------------


def standing(
    db: Session, budget: Budget, now: dt.datetime, uploader: User | None = None
) -> alerts_q.Figures | None:
    """Where a budget stands now: a cost budget's period so far; a limit budget's window from
    the latest official reading (a team's: the uploader's, else none), None when there is no
    reading or the window has reset since."""
    if budget.kind == "cost":
        return alerts_q.cost_figures(db, budget, now)
    who = budget.user_id if budget.team_id is None else (uploader.id if uploader else None)
    if who is None:
        return None
    rows = queries.limits.latest(db, [who])[who]
    found = []
    for row in rows:
        if budget.window == "five_hour":
            pct, resets = row.five_hour_pct, row.five_hour_resets_at
        else:
            pct, resets = row.seven_day_pct, row.seven_day_resets_at
        if pct is not None and resets is not None:
            found.append((row.recorded_at, pct, resets))
    if not found:
        return None
    _, pct, resets = max(found)
    if resets <= now:
        return None  # the window started again: nothing is used that we know of
    key = f"{budget.window}:{resets.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    if budget.team_id is not None:
        key = f"{key}:u{who}"
    return alerts_q.Figures(key, pct, 100.0, pct, who)


def crossed(budget: Budget, figures: alerts_q.Figures) -> list[int]:
    return sorted(t for t in budget.thresholds if figures.percent >= t)


def standing_out(
    budget: Budget, figures: alerts_q.Figures, passed: list[int]
) -> schemas.BudgetStanding:
    return schemas.BudgetStanding(
        id=budget.id,
        team_id=budget.team_id,
        kind=budget.kind,  # type: ignore[arg-type]
        period=budget.period,  # type: ignore[arg-type]
        window=budget.window,  # type: ignore[arg-type]
        used=round(figures.used, 6),
        limit=figures.limit,
        percent=round(figures.percent, 2),
        crossed=passed,
    )


def budgets_of(db: Session, user: User) -> list[Budget]:
    """The budgets an upload of ``user`` may move: their own, and their teams'."""
    return alerts_q.user_budgets(db, user) + alerts_q.team_budgets(
        db, alerts_q.team_ids_of(db, user)
    )


SPIKE_FACTOR = 3.0
SPIKE_HISTORY = 14  # active days before today
SPIKE_MIN_HISTORY = 3  # fewer active days than this: no usual to compare with
SPIKE_LOOKBACK_DAYS = 365


def spike(
    db: Session, user: User, now: dt.datetime, floor: float
) -> tuple[dt.date, float, float] | None:
    """(today, today's cost, the median of the previous active days) when today, in the user's
    zone, costs more than 3× the median of the previous 14 days with any cost and more than
    ``floor`` dollars; else None."""
    today = now.astimezone(alerts_q.zone_of(user.timezone)).date()
    days = alerts_q.active_days(db, user.id, today - dt.timedelta(days=SPIKE_LOOKBACK_DAYS), today)
    cost = days.pop(today, 0.0)
    if cost <= floor:
        return None
    before = [days[d] for d in sorted(days, reverse=True)[:SPIKE_HISTORY]]
    if len(before) < SPIKE_MIN_HISTORY:
        return None
    median = statistics.median(before)
    if cost <= SPIKE_FACTOR * median:
        return None
    return today, cost, median


def spike_messages(db: Session, user: User, now: dt.datetime, floor: float) -> list[Message]:
    """A spike alerts its user once a day, through each channel of their own budgets (once per
    channel), claimed as an alert of the budget with the period key ``spike:<day>``, so the
    alert table's unique key keeps it to once, as for thresholds. A user with no budget hears
    of it through the channels of their own digests instead, claimed once a day in
    ``spike_alert`` (unique by user and day). A user with neither is not told."""
    if not user.spike_alerts:
        return []
    own = alerts_q.user_budgets(db, user)
    subscribed = [] if own else alerts_q.user_digests(db, user)
    if not own and not subscribed:
        return []
    found = spike(db, user, now, floor)
    if found is None:
        return []
    day, cost, median = found
    ratio = cost / median
    text = (
        f"promptpulse: {user.username}'s cost today, ${cost:,.2f}, is {ratio:.1f}× the usual "
        f"(median ${median:,.2f} of the last {SPIKE_HISTORY} active days)"
    )
    payload: dict[str, Any] = {
        "budgetId": None,
        "teamId": None,
        "kind": "spike",
        "period": "day",
        "periodKey": f"spike:{day.isoformat()}",
        "day": day.isoformat(),
        "used": round(cost, 6),
        "median": round(median, 6),
        "ratio": round(ratio, 2),
        "unit": "usd",
        "test": False,
        "text": text,
    }
    messages = []
    channels: list[dict[str, Any]] = []
    if not own:
        spike_id = alerts_q.claim_spike(db, user, day, cost, median, now)
        if spike_id is None:
            return []
        for digest in subscribed:
            if digest.channel in channels:
                continue
            channels.append(digest.channel)
            body = payload | {"digestId": digest.id}
            messages.append(
                Message(None, None, dict(digest.channel), body, text, digest.id, spike_id)
            )
        return messages
    for budget in own:
        if budget.channel in channels:
            continue
        channels.append(budget.channel)
        figures = alerts_q.Figures(payload["periodKey"], cost, median, ratio * 100)
        alert_id = alerts_q.claim_alert(db, budget, figures, 0, now)
        if alert_id is None:
            continue
        body = payload | {"budgetId": budget.id}
        messages.append(Message(budget.id, alert_id, dict(budget.channel), body, text))
    return messages


def check(
    db: Session, user: User, now: dt.datetime, spike_floor: float = 5.0
) -> tuple[list[tuple[Budget, alerts_q.Figures, list[int]]], list[Message]]:
    """After an upload of ``user`` committed: the budgets past a threshold, and the alerts this
    call claimed (to deliver), a cost spike's among them. Commits the claims."""
    standings = []
    messages = spike_messages(db, user, now, spike_floor)
    names = alerts_q.team_names(db, alerts_q.team_ids_of(db, user))
    for budget in budgets_of(db, user):
        figures = standing(db, budget, now, user)
        if figures is None:
            continue
        passed = crossed(budget, figures)
        if not passed:
            continue
        standings.append((budget, figures, passed))
        whose = names.get(budget.team_id, "your team") if budget.team_id else user.username
        for threshold in passed:
            alert_id = alerts_q.claim_alert(db, budget, figures, threshold, now)
            if alert_id is not None:
                messages.append(message(budget, figures, threshold, alert_id, whose, user))
    db.commit()
    return standings, messages


def message(
    budget: Budget,
    figures: alerts_q.Figures,
    threshold: int,
    alert_id: int | None,
    whose: str,
    member: User | None = None,
) -> Message:
    payload: dict[str, Any] = {
        "budgetId": budget.id,
        "teamId": budget.team_id,
        "kind": budget.kind,
        "period": budget.period,
        "window": budget.window,
        "periodKey": figures.period_key,
        "threshold": threshold,
        "used": round(figures.used, 6),
        "limit": figures.limit,
        "percent": round(figures.percent, 2),
        "unit": "usd" if budget.kind == "cost" else "percent",
        "test": alert_id is None,
    }
    if budget.kind == "cost":
        what = f"{whose}'s {PERIODS.get(budget.period or '', '')} cost budget"
        figure = f"${figures.used:,.2f} of ${figures.limit:,.2f} ({figures.percent:.0f} %)"
    else:
        person = member.username if member is not None and budget.team_id else whose
        if budget.team_id is not None:
            payload["username"] = person
        what = f"{person}'s {WINDOWS.get(budget.window or '', '')} limit"
        figure = f"{figures.used:.0f} % used"
    prefix = "[test] " if alert_id is None else ""
    text = f"{prefix}promptpulse: {what}: {figure}, past the {threshold} % threshold"
    payload["text"] = text
    return Message(budget.id, alert_id, dict(budget.channel), payload, text)


def test_message(budget: Budget, figures: alerts_q.Figures | None, whose: str) -> Message:
    """A test of a budget's channel, with its current figures (or none yet)."""
    figures = figures or alerts_q.Figures("test", 0.0, budget.amount_usd or 100.0, 0.0)
    return message(budget, figures, min(budget.thresholds), None, whose)


# --- delivering ----------------------------------------------------------------------------------


def deliver(
    sessions: sessionmaker[Session],
    settings: Settings,
    messages: list[Message],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send each message, retrying with the settings' delays; log every attempt."""
    for msg in messages:
        attempts = 1 + len(settings.alert_retry_delays)
        for attempt in range(1, attempts + 1):
            error, again = None, True
            try:
                send(msg, settings)
            except DeliveryError as exc:
                error, again = str(exc), exc.retry
            except Exception as exc:  # a bug must not lose the log line
                error = f"unexpected error ({type(exc).__name__})"
            with sessions() as db:
                alerts_q.log_delivery(
                    db,
                    msg.budget_id,
                    msg.alert_id,
                    attempt,
                    settings.clock(),
                    error,
                    msg.digest_id,
                    msg.spike_id,
                )
                db.commit()
            metrics.delivered("alert" if msg.alert_id else "test", msg.channel, error)
            if error is None or not again or attempt == attempts:
                break
            sleep(settings.alert_retry_delays[attempt - 1])


def send(msg: Message, settings: Settings) -> None:
    channel = msg.channel
    if channel.get("type") == "email":
        send_mail(str(channel["to"]), msg, settings)
    else:
        post_webhook(channel, msg, settings)


def body_of(channel: dict[str, Any], msg: Message) -> bytes:
    fmt = channel.get("format", "json")
    if fmt == "slack":
        return json.dumps({"text": msg.text}).encode()
    if fmt == "discord":
        return json.dumps({"content": msg.text}).encode()
    return json.dumps(msg.payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(channel: dict[str, Any], msg: Message, settings: Settings) -> None:
    url = str(channel["url"])
    host = safe_host(url)
    if refuses_private(settings):
        check_resolved(url)
    body = body_of(channel, msg)
    headers = {"Content-Type": "application/json", "User-Agent": "promptpulse-server"}
    secret = channel.get("secret")
    if secret and channel.get("format", "json") == "json":
        headers[SIGNATURE] = signature(str(secret), body)
    # a URL's user and password go as Basic auth, so that no log line (httpx logs each
    # request's URL) carries them
    parts = urlsplit(url)
    auth = (
        (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
    )
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as http:
            r = http.post(
                public_url(url),
                content=body,
                headers=headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
            )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{host}: could not deliver ({type(exc).__name__})") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"{host} answered {r.status_code}")


def send_mail(to: str, msg: Message, settings: Settings) -> None:
    if not settings.smtp_url or not settings.mail_from:
        raise DeliveryError(
            "e-mail is not set up on this server (PROMPTPULSE_SMTP_URL, PROMPTPULSE_MAIL_FROM)",
            retry=False,
        )
    parts = urlsplit(settings.smtp_url)
    host = parts.hostname or "localhost"
    secure = parts.scheme.lower() == "smtps"
    port = parts.port or (465 if secure else 25)
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = msg.text[:200]
    mail.set_content(msg.text + "\n\n" + json.dumps(msg.payload, indent=2, sort_keys=True))
    try:
        smtp_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with smtp_class(host, port, timeout=TIMEOUT_S) as smtp:
            if not secure:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"the SMTP server {host} answered {exc.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP server {host}: {type(exc).__name__}") from None


# --- where webhooks may go -----------------------------------------------------------------------


def refuses_private(settings: Settings) -> bool:
    return settings.signup_mode == "open" and not settings.allow_private_webhooks


def safe_host(url: str) -> str:
    """The URL's host and port, for messages: never its user, password, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def public_url(url: str) -> str:
    """The URL without user and password, as it is shown."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def private_destination(url: str) -> str | None:
    """Why a webhook URL may not be used on an open server (an address that is not public),
    or None. A host that does not resolve now is left to the check at send time."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for address in resolve(host, port):
        if not is_public(address):
            return f"{safe_host(url)} is a private, loopback or link-local address"
    return None


def check_resolved(url: str) -> None:
    """At send time: the host must resolve, and only to public addresses."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise DeliveryError(f"{safe_host(url)}: the host does not resolve")
    if any(not is_public(a) for a in addresses):
        raise DeliveryError(
            f"{safe_host(url)} resolves to a private, loopback or link-local address, which "
            "this server does not send to (PROMPTPULSE_ALLOW_PRIVATE_WEBHOOKS)",
            retry=False,
        )
