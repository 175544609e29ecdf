"""Checking a received request's SigV4 signature by recomputing it with botocore."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ops.emulator.responses import ServiceError

SERVICE = "bedrock"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class _SignedHeaders(dict[str, list[str]]):
    """The headers named in SignedHeaders, lower-cased; what botocore's canonicaliser reads."""

    def get_all(self, name: str) -> list[str]:
        return self[name]


class _ReceivedRequestSigV4(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 over exactly the headers the client listed in SignedHeaders.

    The derived signing key is kept per date: it is the same for every request of a day.
    """

    def __init__(self, credentials: Credentials, service: str, region: str) -> None:
        super().__init__(credentials, service, region)
        self._keys: dict[str, bytes] = {}

    def headers_to_sign(self, request: AWSRequest) -> _SignedHeaders:
        signed: _SignedHeaders = request.context["signed_headers"]
        return signed

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(request.data or b"").hexdigest()

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        date = request.context["timestamp"][0:8]
        key = self._keys.get(date)
        if key is None:
            secret = self.credentials.secret_key.encode()
            key = b"AWS4" + secret
            for part in (date, self._region_name, self._service_name, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 4:
                self._keys.clear()
            self._keys[date] = key
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _denied(error_type: str, message: str) -> ServiceError:
    return ServiceError(403, error_type, message, coral=True)


class SigV4Verifier:
    """Accepts requests signed for service "bedrock" in `region` with the one known key pair."""

    def __init__(self, access_key_id: str, secret_access_key: str, region: str) -> None:
        self._access_key_id = access_key_id
        self._region = region
        self._signer = _ReceivedRequestSigV4(
            Credentials(access_key_id, secret_access_key), SERVICE, region
        )

    def __repr__(self) -> str:
        return f"<SigV4Verifier key={self._access_key_id} region={self._region}>"

    def verify(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """Raise `ServiceError` (403, AWS's type and wording) unless the signature is right."""
        received: dict[bytes, list[bytes]] = {}
        for raw_name, raw_value in headers:
            received.setdefault(raw_name.lower(), []).append(raw_value)

        def first(name: bytes) -> str:
            return received.get(name, [b""])[0].decode("latin-1")

        authorization = first(b"authorization")
        if not authorization:
            raise _denied("MissingAuthenticationTokenException", "Missing Authentication Token")
        fields = self._parse(authorization)
        credential = fields["Credential"].split("/")
        if len(credential) != 5 or credential[4] != "aws4_request":
            raise _denied("IncompleteSignatureException", "Credential is malformed.")
        access_key, date, region, service, _ = credential
        if access_key != self._access_key_id:
            raise _denied(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if region != self._region:
            raise _denied(
                "InvalidSignatureException", "Credential should be scoped to a valid region."
            )
        if service != SERVICE:
            raise _denied(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}'.",
            )
        timestamp = first(b"x-amz-date")
        if not timestamp.startswith(date):
            raise _denied(
                "IncompleteSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                "from HTTP.",
            )
        signed = _SignedHeaders(
            (name, [value.decode("latin-1") for value in received.get(name.encode(), [])])
            for name in fields["SignedHeaders"].split(";")
        )
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        request = AWSRequest(method=method, url=f"http://emulator{target}", data=body)
        if "x-amz-content-sha256" in signed:  # botocore then trusts it instead of hashing
            request.headers["X-Amz-Content-SHA256"] = signed["x-amz-content-sha256"][0]
        request.context["timestamp"] = timestamp
        request.context["signed_headers"] = signed
        canonical = self._signer.canonical_request(request)
        expected = self._signer.signature(self._signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise _denied("InvalidSignatureException", _MISMATCH)

    @staticmethod
    def _parse(authorization: str) -> dict[str, str]:
        scheme, _, rest = authorization.partition(" ")
        if scheme != "AWS4-HMAC-SHA256":
            raise _denied(
                "IncompleteSignatureException",
                f"Authorization header requires the AWS4-HMAC-SHA256 scheme, got '{scheme}'.",
            )
        fields = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
        if missing:
            raise _denied(
                "IncompleteSignatureException",
                f"Authorization header requires '{missing[0]}' parameter.",
            )
        return fields
