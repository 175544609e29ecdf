"""OAuth 2.0 / OpenID Connect sign-in: `providers` (configuration, light) and `flow` (the
authorization code flow with authlib)."""
