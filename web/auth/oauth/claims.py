"""Turning a provider's user info into our user fields (ids may be numbers or strings)."""

from __future__ import annotations

from typing import Any

import attrs

from web.auth.errors import SignInError
from web.auth.oauth.providers import ProviderSpec, claim

MAX_ID_CHARS = 255
MAX_NAME_CHARS = 255


@attrs.frozen
class ProviderIdentity:
    """Who the provider says signed in."""

    user_id: str
    email: str
    email_verified: bool
    display_name: str | None


def _text_id(value: Any) -> str | None:
    # GitHub and GitLab send numbers; JSON may give int or (rarely) a float like 12.0
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip() if isinstance(value, int | str) else ""
    return text if 0 < len(text) <= MAX_ID_CHARS else None


def _verified(value: Any) -> bool:
    # some providers (Okta, Cognito) send the claim as a string
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    email = value.strip()
    local, at, domain = email.rpartition("@")
    return email if at and local and domain and len(email) <= 320 else None


def _github_primary(emails: Any) -> str | None:
    # /user/emails: [{"email", "primary", "verified"}, ...]
    if not isinstance(emails, list):
        return None
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") and entry.get("verified") is True:
            return _email(entry.get("email"))
    return None


def identity_from(spec: ProviderSpec, info: dict[str, Any], emails: Any = None) -> ProviderIdentity:
    """Map user info with the provider's field settings; `SignInError` when unusable."""
    user_id = _text_id(claim(info, spec.user_id_field))
    if user_id is None:
        raise SignInError(
            502,
            f"the identity provider sent no usable user id in {spec.user_id_field!r}",
            "user_id",
        )
    verified_primary = _github_primary(emails) if spec.emails_url else None
    email: str | None = verified_primary
    if verified_primary is not None:
        verified = True
    else:
        email = _email(claim(info, spec.email_field))
        verified = _verified(claim(info, "email_verified"))
        if email is None and spec.fallback_email_field:
            email, verified = _email(claim(info, spec.fallback_email_field)), False
    if email is None:
        raise SignInError(
            400,
            f"the identity provider sent no email in {spec.email_field!r}; grant the email scope",
            "email",
        )
    name = claim(info, spec.name_field)
    if not isinstance(name, str) or not name.strip():
        name = claim(info, spec.fallback_name_field) if spec.fallback_name_field else None
    display = name.strip()[:MAX_NAME_CHARS] if isinstance(name, str) and name.strip() else None
    return ProviderIdentity(user_id, email, verified or spec.trust_email, display)
