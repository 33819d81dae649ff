"""TokenValidator: RFC 9068 access tokens are accepted, everything else is an InvalidToken (RFC 8725).

Real keys and real tokens throughout; the hostile tokens are built with joserfc or by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from auth.clients import demo_clients
from auth.keys import SigningKeys
from auth.server import BuiltinAuthorizationServer
from auth.tokens import InvalidToken, Principal, TokenValidator

ISSUER = "https://auth.hrss.example"
AUDIENCE = "hrss-credit"
LEEWAY = 30


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture(scope="module")
def server(keys: SigningKeys) -> BuiltinAuthorizationServer:
    return BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=demo_clients())


@pytest.fixture(scope="module")
def validator(keys: SigningKeys) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys.public_jwks(), leeway_seconds=LEEWAY)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode("utf-8"))


def good_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "jti": "test-jti",
        "client_id": "procurement",
        "sub": "procurement",
        "scope": "subject:read grade:read",
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(
    key: ECKey | OctKey,
    claims: dict[str, Any],
    *,
    kid: str | None,
    alg: str = "ES256",
    typ: str | None = "at+jwt",
) -> str:
    header: dict[str, Any] = {"alg": alg}
    if typ is not None:
        header["typ"] = typ
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[alg], default_type=None)


def reject(validator: TokenValidator, token: Any) -> InvalidToken:
    """The token is refused with InvalidToken (pytest.raises lets any other exception fail the test)."""
    with pytest.raises(InvalidToken) as info:
        validator.validate(token)
    reason = info.value.reason
    assert reason
    if isinstance(token, str) and len(token) > 3:
        assert token not in reason
    return info.value


# -- accepted ----------------------------------------------------------------------------------------------


def test_issued_token_validates(server: BuiltinAuthorizationServer, validator: TokenValidator) -> None:
    principal = validator.validate(server.issue_token("procurement"))
    assert isinstance(principal, Principal)
    assert principal.client_id == "procurement"
    assert principal.subject == "procurement"
    assert principal.scopes == frozenset(
        {"subject:read", "grade:read", "restriction:government_procurement", "restriction:bidding"}
    )
    assert principal.has("restriction:bidding")
    assert not principal.has("subject:pii")
    assert principal.claims["iss"] == ISSUER
    assert principal.claims["aud"] == AUDIENCE
    assert principal.claims["jti"]


def test_issued_token_narrowed_scopes(server: BuiltinAuthorizationServer, validator: TokenValidator) -> None:
    principal = validator.validate(server.issue_token("inspection", scopes=["grade:read", "subject:read"]))
    assert principal.scopes == frozenset({"grade:read", "subject:read"})


def test_issue_token_unknown_client_or_scope(server: BuiltinAuthorizationServer) -> None:
    with pytest.raises(KeyError):
        server.issue_token("nobody")
    with pytest.raises(ValueError, match="scope"):
        server.issue_token("procurement", scopes=["subject:pii"])


def test_source_unit_token_carries_its_unit(server: BuiltinAuthorizationServer, validator: TokenValidator) -> None:
    principal = validator.validate(server.issue_token("source-unit"))
    assert principal.claims["source_unit"] == "上海市人力资源和社会保障局执法总队"


def test_hand_built_token_validates(keys: SigningKeys, validator: TokenValidator) -> None:
    principal = validator.validate(sign(keys.private_key(), good_claims(), kid=keys.kid))
    assert principal.scopes == frozenset({"subject:read", "grade:read"})


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_variants_accepted(keys: SigningKeys, validator: TokenValidator, typ: str) -> None:
    validator.validate(sign(keys.private_key(), good_claims(), kid=keys.kid, typ=typ))


def test_audience_list_accepted(keys: SigningKeys, validator: TokenValidator) -> None:
    claims = good_claims(aud=["other-api", AUDIENCE])
    assert validator.validate(sign(keys.private_key(), claims, kid=keys.kid)).client_id == "procurement"


def test_sub_falls_back_to_client_id_and_scope_may_be_absent(keys: SigningKeys, validator: TokenValidator) -> None:
    principal = validator.validate(sign(keys.private_key(), good_claims(sub=None, scope=None), kid=keys.kid))
    assert principal.subject == "procurement"
    assert principal.scopes == frozenset()


def test_expiry_boundary(keys: SigningKeys, validator: TokenValidator) -> None:
    now = int(time.time())
    validator.validate(sign(keys.private_key(), good_claims(exp=now + 60), kid=keys.kid))
    reject(validator, sign(keys.private_key(), good_claims(exp=now - LEEWAY - 1, iat=now - 3600), kid=keys.kid))
    reject(validator, sign(keys.private_key(), good_claims(exp=now - 86400, iat=now - 90000), kid=keys.kid))


def test_nbf_within_leeway_accepted_beyond_rejected(keys: SigningKeys, validator: TokenValidator) -> None:
    now = int(time.time())
    validator.validate(sign(keys.private_key(), good_claims(nbf=now + 5), kid=keys.kid))
    reason = reject(validator, sign(keys.private_key(), good_claims(nbf=now + LEEWAY + 60), kid=keys.kid))
    assert reason.reason == "token not yet valid"


def test_jwks_callable(keys: SigningKeys) -> None:
    calls: list[int] = []

    def jwks() -> dict[str, Any]:
        calls.append(1)
        return keys.public_jwks()

    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    validator.validate(sign(keys.private_key(), good_claims(), kid=keys.kid))
    validator.validate(sign(keys.private_key(), good_claims(), kid=keys.kid))
    assert len(calls) == 2


def test_jwks_callable_failure_is_invalid_token(keys: SigningKeys) -> None:
    def jwks() -> dict[str, Any]:
        raise OSError("identity provider unreachable")

    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    assert reject(validator, sign(keys.private_key(), good_claims(), kid=keys.kid)).reason == (
        "signing keys unavailable"
    )


def test_none_algorithm_cannot_be_allowed(keys: SigningKeys) -> None:
    with pytest.raises(ValueError):
        TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys.public_jwks(), algorithms=("ES256", "none"))


# -- rejected ----------------------------------------------------------------------------------------------


def test_alg_none_rejected(keys: SigningKeys, validator: TokenValidator) -> None:
    header = b64json({"alg": "none", "typ": "at+jwt", "kid": keys.kid})
    payload = b64json(good_claims())
    reject(validator, f"{header}.{payload}.")
    # Even with something in the signature slot, "none" is refused on the allow-list, before any key.
    assert reject(validator, f"{header}.{payload}.{b64(b'x')}").reason == "algorithm not allowed"
    for spelling in ("None", "NONE", "nOnE"):
        header = b64json({"alg": spelling, "typ": "at+jwt", "kid": keys.kid})
        reject(validator, f"{header}.{payload}.{b64(b'x')}")


def hs256(secret: bytes, claims: dict[str, Any], kid: str) -> str:
    """By hand: joserfc (rightly) refuses to use a public key as an HMAC secret."""
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def public_key_secrets(keys: SigningKeys) -> list[bytes]:
    jwk = keys.public_jwks()["keys"][0]
    pem = ECKey.import_key(jwk).as_pem(private=False)
    return [pem, pem.strip(), json.dumps(jwk).encode("utf-8"), json.dumps(keys.public_jwks()).encode("utf-8")]


def test_hs256_keyed_with_public_key_rejected(keys: SigningKeys, validator: TokenValidator) -> None:
    for secret in public_key_secrets(keys):
        assert reject(validator, hs256(secret, good_claims(), keys.kid)).reason == "algorithm not allowed"


def test_hs256_rejected_even_when_in_allow_list(keys: SigningKeys) -> None:
    """A careless allow-list still cannot verify an HMAC with the EC public key of the JWKS."""
    published = keys.public_jwks()["keys"][0]
    without_alg = {name: value for name, value in published.items() if name != "alg"}
    for jwk in (published, without_alg):
        careless = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [jwk]}, algorithms=("ES256", "HS256"))
        for secret in public_key_secrets(keys):
            reject(careless, hs256(secret, good_claims(), keys.kid))


def test_other_asymmetric_algorithm_rejected(keys: SigningKeys, validator: TokenValidator) -> None:
    p384 = ECKey.generate_key("P-384")
    reject(validator, sign(p384, good_claims(), kid=keys.kid, alg="ES384"))


def test_wrong_issuer(keys: SigningKeys, validator: TokenValidator) -> None:
    for iss in ("https://evil.example", ISSUER + "/", ISSUER.upper()):
        assert reject(validator, sign(keys.private_key(), good_claims(iss=iss), kid=keys.kid)).reason == (
            "wrong issuer"
        )
    reject(validator, sign(keys.private_key(), good_claims(iss=None), kid=keys.kid))


def test_wrong_audience(keys: SigningKeys, validator: TokenValidator) -> None:
    wrong: list[Any] = ["procurement", ["a", "b"], "hrss-credit-staging", None, 42, [AUDIENCE, 1], {"a": 1}]
    for aud in wrong:
        reject(validator, sign(keys.private_key(), good_claims(aud=aud), kid=keys.kid))


def test_missing_typ(keys: SigningKeys, validator: TokenValidator) -> None:
    reject(validator, sign(keys.private_key(), good_claims(), kid=keys.kid, typ=None))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", "at+jwt2", "dpop+jwt", ""])
def test_wrong_typ(keys: SigningKeys, validator: TokenValidator, typ: str) -> None:
    reject(validator, sign(keys.private_key(), good_claims(), kid=keys.kid, typ=typ))


def test_unknown_kid(keys: SigningKeys, validator: TokenValidator) -> None:
    assert reject(validator, sign(keys.private_key(), good_claims(), kid="someone-else")).reason == "unknown key"


def test_missing_kid(keys: SigningKeys, validator: TokenValidator) -> None:
    reject(validator, sign(keys.private_key(), good_claims(), kid=None))


def test_other_key_claiming_our_kid(keys: SigningKeys, validator: TokenValidator) -> None:
    impostor = SigningKeys.generate()
    token = sign(impostor.private_key(), good_claims(), kid=keys.kid)
    assert reject(validator, token).reason == "bad signature"


def test_tampered_payload(server: BuiltinAuthorizationServer, validator: TokenValidator) -> None:
    token = server.issue_token("portal")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] += " subject:pii record:write"
    assert reject(validator, f"{header}.{b64json(claims)}.{signature}").reason == "bad signature"


def test_tampered_header(server: BuiltinAuthorizationServer, validator: TokenValidator) -> None:
    token = server.issue_token("portal")
    header, payload, signature = token.split(".")
    changed = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    changed["typ"] = "application/at+jwt"
    reject(validator, f"{b64json(changed)}.{payload}.{signature}")


@pytest.mark.parametrize("claim", ["exp", "iat", "client_id"])
def test_missing_required_claim(keys: SigningKeys, validator: TokenValidator, claim: str) -> None:
    reject(validator, sign(keys.private_key(), good_claims(**{claim: None}), kid=keys.kid))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": "tomorrow"},
        {"exp": True},
        {"exp": [1]},
        {"iat": "now"},
        {"nbf": "later"},
        {"client_id": 7},
        {"client_id": ""},
        {"sub": 7},
        {"scope": ["subject:read"]},
        {"iat": int(time.time()) + 3600},
    ],
)
def test_wrongly_typed_claims(keys: SigningKeys, validator: TokenValidator, overrides: dict[str, Any]) -> None:
    reject(validator, sign(keys.private_key(), good_claims(**overrides), kid=keys.kid))


def test_signed_payload_that_is_not_an_object(keys: SigningKeys, validator: TokenValidator) -> None:
    from joserfc import jws

    for payload in (b"[1, 2]", b"not json", b"\xff\xfe", b'{"exp": 1, "exp": 2}'):
        token = jws.serialize_compact(
            {"alg": "ES256", "typ": "at+jwt", "kid": keys.kid},
            payload,
            keys.private_key(),
            algorithms=["ES256"],
        )
        reject(validator, token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "...",
        "!!!.@@@.###",
        "eyJ.eyJ.sig",
        "Zm9v.YmFy.YmF6",
        b64json([1]) + "." + b64json({}) + ".c2ln",
        b64json({"alg": "ES256"}) + ".%%%%.c2ln",
        "ünïcödé.ünïcödé.ünïcödé",
        "a" * 10_000,
        ".".join(["a" * 3000] * 3),
        b64(b"\xff\xfe\xfd") + "." + b64json({}) + ".c2ln",
        b64json({"alg": "ES256", "typ": "at+jwt", "kid": {"x": 1}}) + "." + b64json({}) + ".c2ln",
        b64json({"alg": ["ES256"], "typ": "at+jwt"}) + "." + b64json({}) + ".c2ln",
        b64json({"alg": "ES256", "typ": 1}) + "." + b64json({}) + ".c2ln",
        "[" * 5000 + "." + b64json({}) + ".c2ln",
        b64(b"[" * 5000) + "." + b64json({}) + ".c2ln",
    ],
)
def test_garbage(validator: TokenValidator, token: str) -> None:
    reject(validator, token)


@pytest.mark.parametrize("value", [None, 42, b"a.b.c", ["a", "b", "c"]])
def test_non_string_input(validator: TokenValidator, value: Any) -> None:
    reject(validator, value)


def test_crit_header_rejected(keys: SigningKeys, validator: TokenValidator) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header = b64json({"alg": "ES256", "typ": "at+jwt", "kid": keys.kid, "crit": ["exp"], "exp": 1})
    signing_input = f"{header}.{b64json(good_claims())}"
    private = keys.private_key().private_key
    assert private is not None
    r, s = decode_dss_signature(private.sign(signing_input.encode("ascii"), ECDSA(hashes.SHA256())))
    signature = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    reject(validator, f"{signing_input}.{signature}")


def test_key_published_for_another_alg_or_use(keys: SigningKeys) -> None:
    jwk = dict(keys.public_jwks()["keys"][0])
    token = sign(keys.private_key(), good_claims(), kid=keys.kid)
    for changes in ({"use": "enc"}, {"alg": "ES384"}):
        validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [{**jwk, **changes}]})
        reject(validator, token)


@pytest.mark.parametrize("jwks", [{}, {"keys": "nope"}, {"keys": [1, "x"]}, {"keys": [{"kid": "k"}]}])
def test_broken_jwks(keys: SigningKeys, jwks: dict[str, Any]) -> None:
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    reject(validator, sign(keys.private_key(), good_claims(), kid="k"))
    reject(validator, sign(keys.private_key(), good_claims(), kid=keys.kid))


def test_a_remembered_token_is_still_refused_once_it_expires(keys: SigningKeys) -> None:
    now = [float(int(time.time()))]
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys.public_jwks(), clock=lambda: now[0])
    token = sign(keys.private_key(), good_claims(exp=int(now[0]) + 60, iat=int(now[0])), kid=keys.kid)
    assert validator.validate(token).client_id == "procurement"
    now[0] += 60 + LEEWAY - 1
    assert validator.validate(token).client_id == "procurement"  # the last second of its leeway
    now[0] += 1
    assert reject(validator, token).reason == "token expired"
    assert reject(validator, token).reason == "token expired"  # and not served from memory afterwards


def test_a_remembered_token_is_refused_as_soon_as_its_key_is_withdrawn(keys: SigningKeys) -> None:
    published = [keys.public_jwks()]
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=lambda: published[0])
    token = sign(keys.private_key(), good_claims(), kid=keys.kid)
    assert validator.validate(token).client_id == "procurement"
    published[0] = {"keys": []}
    assert reject(validator, token).reason == "unknown key"


def test_a_remembered_token_costs_no_second_signature_check(keys: SigningKeys) -> None:
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys.public_jwks())
    token = sign(keys.private_key(), good_claims(), kid=keys.kid)
    first = validator.validate(token)
    assert validator.validate(token) is first
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert reject(validator, tampered).reason in ("bad signature", "signature verification failed")
