"""Provider configuration, user-info mapping and forwarded-header trust (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from ops.settings import ConfigError, load_settings
from web.auth.errors import InvalidInput, SignInError
from web.auth.forwarded import client_ip, parse_networks, request_origin
from web.auth.oauth.claims import identity_from
from web.auth.oauth.providers import resolve_provider
from web.config import OAuthProviderConfig as P


def test_each_provider_type_resolves() -> None:
    google = resolve_provider("google", P(client_id="g"))
    assert google.authorization_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert google.scopes == ("openid", "email", "profile") and google.user_id_field == "sub"
    github = resolve_provider("github", P(client_id="h"))
    assert (
        github.user_id_field == "id" and github.emails_url == "https://api.github.com/user/emails"
    )
    ghe = resolve_provider("work", P(type="github", client_id="h", instance_url="https://ghe.corp"))
    assert ghe.userinfo_url == "https://ghe.corp/api/v3/user"
    ms = resolve_provider("microsoft", P(client_id="m"))
    assert "/common/oauth2/v2.0/authorize" in (ms.authorization_url or "")
    tenant = resolve_provider("microsoft", P(client_id="m", tenant_id="contoso.onmicrosoft.com"))
    assert "/contoso.onmicrosoft.com/" in (tenant.token_url or "")
    gitlab = resolve_provider("gitlab", P(client_id="l", instance_url="https://git.corp/"))
    assert gitlab.token_url == "https://git.corp/oauth/token"
    auth0 = resolve_provider("auth0", P(client_id="a", domain="https://t.eu.auth0.com/"))
    assert auth0.userinfo_url == "https://t.eu.auth0.com/userinfo"
    okta = resolve_provider("okta", P(client_id="o", domain="corp.okta.com"))
    assert okta.authorization_url == "https://corp.okta.com/oauth2/v1/authorize"
    okta_as = resolve_provider(
        "okta", P(client_id="o", issuer="https://corp.okta.com/oauth2/default")
    )
    assert okta_as.needs_discovery and okta_as.issuer == "https://corp.okta.com/oauth2/default"
    custom = resolve_provider(
        "sso",
        P(
            type="custom",
            client_id="c",
            authorization_url="https://idp/a",
            token_url="https://idp/t",
            userinfo_url="https://idp/u",
            scopes=["openid", "email"],
            user_id_field="employee.id",
            email_field="mail",
            name_field="cn",
        ),
    )
    assert not custom.needs_discovery and custom.scopes == ("openid", "email")
    assert (custom.user_id_field, custom.email_field, custom.name_field) == (
        "employee.id",
        "mail",
        "cn",
    )
    assert "client_secret=" not in repr(
        resolve_provider("google", P(client_id="g", client_secret="zz"))
    )
    assert "zz" not in repr(resolve_provider("google", P(client_id="g", client_secret="zz")))


@pytest.mark.parametrize(
    ("name", "config", "problem"),
    [
        ("auth0", P(client_id="a"), "domain"),
        ("okta", P(client_id="o"), "domain"),
        ("custom", P(client_id="c"), "issuer"),
        ("corp", P(client_id="c"), "unknown provider type"),
        ("Bad Name", P(type="google", client_id="c"), "lower-case"),
        ("google", P(), "client_id"),
        ("sso", P(type="custom", client_id="c", issuer="ftp://x"), "http"),
    ],
)
def test_provider_problems(name: str, config: P, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        resolve_provider(name, config)


def test_config_check_names_the_provider(tmp_path: Any) -> None:
    env = {
        "BEDROCK_JWT__SECRET": "x" * 40,
        "BEDROCK_OAUTH__PROVIDERS": '{"auth0": {"client_id": "a"}}',
    }
    with pytest.raises(ConfigError, match=r"oauth\.providers\.auth0 needs domain"):
        load_settings(environ=env, cwd=tmp_path)
    env = {"BEDROCK_JWT__SECRET": "x" * 40, "BEDROCK_SERVER__TRUSTED_PROXIES": "10.0.0.0/8,nope"}
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies"):
        load_settings(environ=env, cwd=tmp_path)
    env = {"BEDROCK_JWT__SECRET": "x" * 40, "BEDROCK_JWT__ALGORITHM": "HS512"}
    with pytest.raises(ConfigError, match="64 bytes for HS512"):
        load_settings(environ=env, cwd=tmp_path)


def test_github_user_info() -> None:
    spec = resolve_provider("github", P(client_id="h"))
    info = {"id": 583231, "login": "octocat", "name": None, "email": None}
    emails = [
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "octo@example.com", "primary": True, "verified": True},
    ]
    found = identity_from(spec, info, emails)
    assert (found.user_id, found.email, found.email_verified) == (
        "583231",
        "octo@example.com",
        True,
    )
    assert found.display_name == "octocat"
    unverified = identity_from(
        spec,
        {**info, "email": "pub@example.com"},
        [{"email": "x@y.z", "primary": True, "verified": False}],
    )
    assert unverified.email == "pub@example.com" and unverified.email_verified is False
    with pytest.raises(SignInError, match="email"):
        identity_from(spec, info, [])


def test_oidc_user_info_edge_cases() -> None:
    spec = resolve_provider("google", P(client_id="g"))
    found = identity_from(spec, {"sub": "1", "email": "a@b.c", "email_verified": "true"})
    assert found.email_verified is True  # some providers send a string
    assert identity_from(spec, {"sub": "1", "email": "a@b.c"}).email_verified is False
    for bad_id in (None, True, "", "x" * 300, {"a": 1}):
        with pytest.raises(SignInError):
            identity_from(spec, {"sub": bad_id, "email": "a@b.c"})
    assert identity_from(spec, {"sub": 12.0, "email": "a@b.c"}).user_id == "12"
    nested = resolve_provider(
        "sso", P(type="custom", client_id="c", issuer="https://i", user_id_field="u.id")
    )
    assert identity_from(nested, {"u": {"id": 7}, "email": "a@b.c"}).user_id == "7"
    ms = resolve_provider("microsoft", P(client_id="m"))
    upn = identity_from(
        ms, {"sub": "s", "preferred_username": "me@corp.example", "email_verified": True}
    )
    assert upn.email == "me@corp.example" and upn.email_verified is False  # never trusted blindly
    trusted = resolve_provider("microsoft", P(client_id="m", trust_email=True))
    assert identity_from(trusted, {"sub": "s", "email": "me@corp.example"}).email_verified is True


def origin(peer: str | None, headers: dict[str, str], **kw: Any) -> Any:
    return request_origin(
        scheme=kw.get("scheme", "http"),
        host=kw.get("host", "internal:3000"),
        peer=peer,
        header=lambda name: headers.get(name),
        public_url=kw.get("public_url"),
        networks=parse_networks(["10.0.0.0/8", "::1"]),
    )


def test_forwarded_headers_only_from_trusted_proxies() -> None:
    forwarded = {
        "x-forwarded-proto": "https",
        "x-forwarded-host": "proxy.example.com",
        "x-forwarded-prefix": "/llm/",
    }
    trusted = origin("10.1.2.3", forwarded)
    assert trusted.url == "https://proxy.example.com/llm"
    untrusted = origin("203.0.113.5", forwarded)
    assert untrusted.url == "http://internal:3000"
    assert origin("10.1.2.3", {"x-forwarded-proto": "evil, https"}).scheme == "https"
    assert origin(None, forwarded).url == "http://internal:3000"
    configured = origin("10.1.2.3", forwarded, public_url="https://llm.corp/")
    assert configured.url == "https://llm.corp"
    with pytest.raises(InvalidInput):
        origin("10.1.2.3", {"x-forwarded-host": "evil.com/path?x"})
    with pytest.raises(InvalidInput):
        origin("203.0.113.5", {}, host="bad host")
    with pytest.raises(InvalidInput):
        origin("10.1.2.3", {"x-forwarded-prefix": "/a/../b"})


def test_client_ip() -> None:
    nets = parse_networks(["10.0.0.0/8"])
    assert client_ip("203.0.113.5", "1.2.3.4", nets) == "203.0.113.5"  # untrusted peer
    assert client_ip("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", nets) == "198.51.100.7"
    assert client_ip("10.0.0.2", None, nets) == "10.0.0.2"
    with pytest.raises(ValueError, match="nope"):
        parse_networks(["nope"])
