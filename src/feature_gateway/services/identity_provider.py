"""The company's OpenID Connect provider (SPEC §12): its discovery document, its signing
keys, and the JWTs it issues, checked here for the API and for the console's sign-in alike.

One ``IdentityProvider`` per process (the app's ``Gateway`` holds it): the discovery document
(``<issuer>/.well-known/openid-configuration``) and the key set at its ``jwks_uri`` are
fetched once and kept. A token signed with a key not in the set (the provider rotated its
keys) makes it fetch them again, at most once every ``KEY_REFETCH_INTERVAL_S``, so a stream
of made-up ``kid``s cannot turn the service into a load on the provider. While the provider
cannot be reached, tokens signed with a cached key keep working; a token whose key is not
cached is ``IdentityProviderUnavailableError`` (503 with Retry-After), never a 401 (the token
may be good) and never a 500.

Signatures and claims are checked by joserfc, with an allow-list of asymmetric algorithms:
``none`` and the HMAC algorithms are refused before any key is looked at, so a token "signed"
with the provider's public key as an HMAC secret is not valid.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feature_gateway.config import Settings
from feature_gateway.domain.identity import Principal, oidc_credential
from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.text import MAX_NAME_LENGTH, name_problem
from feature_gateway.errors import AuthenticationError, IdentityProviderUnavailableError

# joserfc and httpx are imported where a token or a key set is read, never at import: with
# the cryptography bindings it loads joserfc adds about 11 MB to a worker, httpx 2 to 5 MB
# (docs/performance.md), and a worker without OIDC_ISSUER reads no JWT and fetches nothing.
if TYPE_CHECKING:
    import httpx
    from joserfc.errors import JoseError
    from joserfc.jwk import Key, KeySet

# Asymmetric only (SPEC §12): never "none", never an HMAC algorithm.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
LEEWAY_S = 60
KEY_REFETCH_INTERVAL_S = 30.0
# After a failed discovery fetch, how long callers are answered 503 without asking again: each
# unauthenticated visit to the console's sign-in link would otherwise be an outgoing request
# (seconds of timeouts, under the lock key refetches also wait for) while the provider is down.
DISCOVERY_RETRY_S = 5.0
# Short: a request waits for the provider only when it holds a key the service lacks.
# (connect, read, write, pool) seconds, as httpx.Timeout reads a tuple.
HTTP_TIMEOUT = (2.0, 3.0, 3.0, 3.0)
DISCOVERY_PATH = "/.well-known/openid-configuration"
# A JWT longer than this is refused unread (headers and claims of a real one are far smaller).
MAX_TOKEN_LENGTH = 16_384


@dataclass(frozen=True)
class Discovery:
    """What the provider's discovery document says (OpenID Connect Discovery 1.0 §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


class IdentityProvider:
    """The provider at ``issuer``: discovery, keys and token checks, cached per process.

    ``clock`` (monotonic seconds) paces the key refetches; ``now`` (epoch seconds) is what
    ``exp``/``nbf``/``iat`` are compared with. Both are parameters for the tests' sake.
    Thread-safe: fetches happen under a lock, one at a time.
    """

    def __init__(
        self,
        issuer: str,
        *,
        principal_claim: str = "preferred_username",
        groups_claim: str = "groups",
        role_map: Mapping[str, frozenset[Role]] | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.principal_claim, self.groups_claim = principal_claim, groups_claim
        self.role_map = dict(role_map or {})
        if client is None:
            import httpx

            client = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self._client = client
        self._clock, self._now = clock, now
        self._lock = threading.Lock()
        self._discovery: Discovery | None = None
        self._keys: KeySet | None = None
        self._last_fetch: float | None = None  # when keys were last asked for (monotonic)
        self._last_fetch_failed = False
        self._discovery_failed_at: float | None = None  # monotonic
        # A service with single sign-on on loads joserfc now, not on its first token.
        import joserfc.jwt  # noqa: F401

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> IdentityProvider | None:
        """The provider OIDC_ISSUER names, with the claims and role map the settings give;
        None when single sign-on is off."""
        if not settings.oidc_enabled:
            return None
        return cls(
            settings.oidc_issuer,
            principal_claim=settings.oidc_principal_claim,
            groups_claim=settings.oidc_groups_claim,
            role_map=settings.oidc_roles,
            **options,
        )

    def principal_of(self, claims: Mapping[str, Any]) -> Principal:
        """Who the claims of a verified token name (``principal_from_claims``)."""
        return principal_from_claims(
            claims,
            issuer=self.issuer,
            principal_claim=self.principal_claim,
            groups_claim=self.groups_claim,
            role_map=self.role_map,
        )

    def post_form(
        self, url: str, form: Mapping[str, str], *, auth: tuple[str, str], timeout: float
    ) -> httpx.Response:
        """POST ``form`` to one of the provider's endpoints (the console's code exchange)
        on this provider's client: its connections are kept and reused, and a test's
        client is the one that carries it."""
        return self._client.post(
            url, data=form, auth=auth, headers={"Accept": "application/json"}, timeout=timeout
        )

    # -- discovery and keys ------------------------------------------------------------

    def discovery(self) -> Discovery:
        """The discovery document, fetched on first use (503 while it cannot be)."""
        with self._lock:
            if self._discovery is None:
                now = self._clock()
                failed = self._discovery_failed_at
                if failed is not None and now - failed < DISCOVERY_RETRY_S:
                    raise self._unavailable(
                        "it could not be reached a moment ago",
                        retry_after=DISCOVERY_RETRY_S - (now - failed),
                    )
                try:
                    self._discovery = self._fetch_discovery()
                except IdentityProviderUnavailableError:
                    self._discovery_failed_at = now
                    raise
            return self._discovery

    def _fetch_discovery(self) -> Discovery:
        document = self._get_json(self.issuer.rstrip("/") + DISCOVERY_PATH, "discovery document")
        try:
            found = Discovery(
                issuer=_string(document, "issuer"),
                authorization_endpoint=_string(document, "authorization_endpoint"),
                token_endpoint=_string(document, "token_endpoint"),
                jwks_uri=_string(document, "jwks_uri"),
                end_session_endpoint=_optional_string(document, "end_session_endpoint"),
            )
        except ValueError as exc:
            raise self._unavailable(f"its discovery document is not usable: {exc}") from exc
        if found.issuer != self.issuer:  # OpenID Connect Discovery 1.0 §4.3
            raise self._unavailable(
                f"its discovery document names the issuer {found.issuer!r}, not "
                f"OIDC_ISSUER {self.issuer!r}"
            )
        return found

    def _key_for(self, kid: str | None, alg: str) -> Key:
        """The cached key the token names, fetching the key set when it is not there (at
        most once every KEY_REFETCH_INTERVAL_S). A cached key is found without the lock:
        a caller whose key is known never waits behind a fetch (the key set is replaced
        whole, never changed in place)."""
        key = self._cached_key(kid, alg)
        if key is not None:
            return key
        with self._lock:
            key = self._cached_key(kid, alg)
            if key is not None:
                return key
            now = self._clock()
            waited = None if self._last_fetch is None else now - self._last_fetch
            if waited is not None and waited < KEY_REFETCH_INTERVAL_S:
                if self._last_fetch_failed or self._keys is None:
                    raise self._unavailable(
                        "it could not be reached a moment ago and the token's key is not "
                        "cached",
                        retry_after=KEY_REFETCH_INTERVAL_S - waited,
                    )
                raise AuthenticationError(
                    "The bearer token is signed with a key the identity provider does not "
                    "publish.",
                    token_sent=True,
                )
            self._last_fetch, self._last_fetch_failed = now, True
            if self._discovery is None:
                self._discovery = self._fetch_discovery()
            self._keys = self._fetch_keys(self._discovery.jwks_uri)
            self._last_fetch_failed = False
            key = self._cached_key(kid, alg)
        if key is None:
            raise AuthenticationError(
                "The bearer token is signed with a key the identity provider does not publish.",
                token_sent=True,
            )
        return key

    def _cached_key(self, kid: str | None, alg: str) -> Key | None:
        keys = self._keys  # read once: a refetch may replace it meanwhile
        if keys is None:
            return None
        from joserfc.errors import JoseError

        try:
            return keys.get_by_kid(kid, {"alg": alg, "use": "sig"})
        except JoseError:
            return None

    def _fetch_keys(self, jwks_uri: str) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        document = self._get_json(jwks_uri, "key set")
        try:
            return KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise self._unavailable("its key set (jwks_uri) holds no usable key") from exc

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        import httpx

        try:
            response = self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise self._unavailable(f"its {what} could not be fetched ({_reason(exc)})") from exc
        if not isinstance(document, dict):
            raise self._unavailable(f"its {what} is not a JSON object")
        return document

    def _unavailable(
        self, why: str, retry_after: float = KEY_REFETCH_INTERVAL_S
    ) -> IdentityProviderUnavailableError:
        return IdentityProviderUnavailableError(
            f"The identity provider {self.issuer} cannot check this token now: {why}. "
            "Retry later; API tokens (fmg_…) are not affected.",
            retry_after_s=max(1, int(retry_after + 0.999)),
        )

    # -- tokens --------------------------------------------------------------------------

    def verify(self, token: str, *, audience: str, nonce: str | None = None) -> dict[str, Any]:
        """The claims of a JWT the provider signed for ``audience``; AuthenticationError
        (401 invalid_token) for any other, IdentityProviderUnavailableError (503) when its
        key is not cached and the provider cannot be reached.

        Checked: an allowed algorithm and a signature by the provider's key, ``iss`` the
        issuer, ``aud`` containing ``audience``, ``exp`` in the future and ``nbf``/``iat``
        not in it (``LEEWAY_S`` either way), and ``nonce`` when one is given (an ID token).
        """
        from joserfc import jwt
        from joserfc.errors import JoseError

        header = _header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _invalid(f"its algorithm {alg!r} is not one of {', '.join(ALGORITHMS)}")
        kid = header.get("kid")
        key = self._key_for(kid if isinstance(kid, str) else None, alg)
        try:
            decoded = jwt.decode(token, key, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise _invalid("its signature does not verify") from exc
        claims = decoded.claims
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(now=lambda: int(self._now()), leeway=LEEWAY_S, **options)
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise _invalid(_claim_problem(exc)) from exc
        return claims


def _header(token: str) -> Mapping[str, Any]:
    from joserfc import jws
    from joserfc.errors import JoseError

    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("it is too long")
    try:
        return jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeEncodeError) as exc:
        raise _invalid("it is not a signed JWT") from exc


def _invalid(why: str) -> AuthenticationError:
    return AuthenticationError(f"The bearer token is not valid: {why}.", token_sent=True)


def _claim_problem(error: JoseError) -> str:
    claim = getattr(error, "claim", None) or error.error
    if error.error == "expired_token":
        return "it has expired"
    if error.error == "missing_claim":
        return f"it lacks the claim(s) {claim}"
    if claim in ("nbf", "iat"):
        return f"its '{claim}' is not a time in the past"
    return f"its claim {claim!r} is not what this service accepts"


def _reason(error: Exception) -> str:
    import httpx

    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def _string(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' is missing")
    return value


def _optional_string(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) and value else None


# -- who the claims name -----------------------------------------------------------------


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    principal_claim: str,
    groups_claim: str,
    role_map: Mapping[str, frozenset[Role]],
) -> Principal:
    """The caller a valid token names: the principal claim (a valid name, SPEC §2, else
    401), the groups claim (a list of strings; anything else counts as no groups), the
    roles those groups map to (none for a group not in the map), ``oidc:<issuer>``."""
    name = claims.get(principal_claim)
    if not isinstance(name, str):
        raise _invalid(f"it has no '{principal_claim}' claim naming the caller")
    problem = name_problem(name) or (
        None if len(name) <= MAX_NAME_LENGTH else f"longer than {MAX_NAME_LENGTH} characters"
    )
    if problem is not None:
        raise _invalid(f"its '{principal_claim}' claim is not a valid name ({problem})")
    groups = _groups(claims.get(groups_claim))
    roles = frozenset(role for group in groups for role in role_map.get(group, ()))
    return Principal(
        name, roles, authenticated=True, groups=groups, credential=oidc_credential(issuer)
    )


def _groups(value: Any) -> frozenset[str]:
    """Groups are what roles and ownership are granted by: only a list of valid names
    counts. A missing claim is no groups; so is a malformed one (a string, a list holding
    other things) — it grants nothing, and refusing the caller outright would lock out
    someone the provider vouches for over a mapper's setting."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(
        g
        for g in value
        if isinstance(g, str) and len(g) <= MAX_NAME_LENGTH and name_problem(g) is None
    )
