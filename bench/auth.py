"""What token mode (SPEC §7) and single sign-on (SPEC §12) cost per request: read by name
and create in trust and token mode, and read by name with a JWT from the provider.

Run: ``.venv/bin/python -m bench.auth`` (needs wrk: ``apt-get install wrk``). One SQLite
database with 10,000 features (10 % deployed) served by ``gunicorn -w 2`` four times in
the same run: a bare Flask endpoint (the ceiling), the service in trust mode, in token mode
(API tokens), and in token mode with OIDC on (a test issuer on loopback, tests.oidc_issuer,
serving discovery and keys; each worker fetches them once, then checks each JWT's RS256
signature with the cached key). Each is loaded with ``wrk -t1 -c16`` on loopback; the
server CPU per request is the workers' user+system time over the run divided by the
requests served. It also times the token check (one primary-key lookup) and the JWT check
(signature and claims, key cached) in process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.common import (
    Gunicorn,
    developer_jwt,
    migrated_sqlite,
    seed_features,
    token_mode_env,
    wrk,
)
from tests.oidc_issuer import AUDIENCE, OidcIssuer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

READ_LUA = """
wrk.method = "GET"
wrk.path = "%(path)s"
%(auth)s
"""
CREATE_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"feature_name": "wrk_PREFIX:f_%%d:1", "feature_type": "batch",'
    .. ' "feature_data_type": "float", "query": "SELECT x FROM t WHERE id = ?",'
    .. ' "description": "load test"%(identity)s}', counter)
  local headers = {["Content-Type"] = "application/json"}
  %(auth)s
  return wrk.format("POST", "/create_feature_metadata", headers, body)
end
"""
TRUST_IDENTITY = ', "created_by": "wrk", "user_role": "developer"'


def workers_cpu_s(server: Gunicorn) -> float:
    children = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
    ).stdout.split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / CLOCK_TICKS


def wait_until_answering(server: Gunicorn, path: str, timeout_s: float = 60) -> None:
    """Both workers import the app after the socket opens; wait for real answers."""
    deadline = time.monotonic() + timeout_s
    answered = 0
    while answered < 10:  # a few answers: both workers are up
        try:
            with urllib.request.urlopen(server.url + path, timeout=5):
                answered += 1
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.url}{path} never answered") from None
            time.sleep(0.2)


def measure(server: Gunicorn, script: str, seconds: int, tmp: Path) -> dict[str, float]:
    """One wrk run after a warm-up; each run gets its own copy of the script with a fresh
    prefix, so that creates never repeat a name."""

    def fresh() -> Path:
        path = tmp / f"{uuid.uuid4().hex}.lua"
        path.write_text(script.replace("PREFIX", uuid.uuid4().hex[:8]))
        return path

    wrk(server.url, 2, script=fresh())  # warm-up
    before = workers_cpu_s(server)
    figures = wrk(server.url, seconds, script=fresh())
    cpu = workers_cpu_s(server) - before
    figures["cpu_us"] = cpu / (figures["rps"] * seconds) * 1e6
    return figures


def issue_developer_token(url: str) -> str:
    from feature_gateway.config import Settings
    from feature_gateway.db.engine import make_engine
    from feature_gateway.db.scopes import Database
    from feature_gateway.services import tokens

    engine = make_engine(Settings(database_url=url))
    try:
        database = Database(engine)
        return tokens.create_token(
            database, principal="wrk", roles=["developer"], created_by="bench"
        ).token
    finally:
        engine.dispose()


def token_check_us(url: str, token: str, calls: int = 5_000) -> float:
    """The median cost of authenticating one request in process (the primary-key lookup)."""
    from feature_gateway.config import Settings
    from feature_gateway.db.engine import make_engine
    from feature_gateway.db.scopes import Database
    from feature_gateway.services import tokens
    from feature_gateway.services.clock import now_ms

    engine = make_engine(Settings(database_url=url))
    try:
        database = Database(engine)
        now = now_ms()  # within the minute: no last_used_time write is timed
        tokens.authenticate(database, token, now)
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            tokens.authenticate(database, token, now)
            timings.append(time.perf_counter() - started)
        return statistics.median(timings) * 1e6
    finally:
        engine.dispose()


def jwt_check_us(issuer: OidcIssuer, jwt: str, calls: int = 2_000) -> float:
    """The median cost of authenticating one request with a JWT in process (keys cached)."""
    from feature_gateway.services.identity_provider import IdentityProvider

    provider = IdentityProvider(issuer.url)
    provider.principal_of(provider.verify(jwt, audience=AUDIENCE))  # fetches the keys
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        provider.principal_of(provider.verify(jwt, audience=AUDIENCE))
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def scripts(token: str, jwt: str, name: str) -> dict[str, tuple[str, str | None]]:
    """Per mode, the wrk scripts reading ``name`` and creating features (None: not run)."""
    auth = f'"Bearer {token}"'
    return {
        "trust": (
            READ_LUA % {"path": f"/get_feature_metadata/{name}?user_role=developer", "auth": ""},
            CREATE_LUA % {"identity": TRUST_IDENTITY, "auth": ""},
        ),
        "token": (
            READ_LUA % {"path": f"/get_feature_metadata/{name}",
                        "auth": f'wrk.headers["Authorization"] = {auth}'},
            CREATE_LUA % {"identity": "", "auth": f'headers["Authorization"] = {auth}'},
        ),
        "jwt": (
            READ_LUA % {"path": f"/get_feature_metadata/{name}",
                        "auth": f'wrk.headers["Authorization"] = "Bearer {jwt}"'},
            None,
        ),
    }  # fmt: skip


def server_env(mode: str, url: str, issuer: OidcIssuer) -> dict[str, str]:
    if mode == "trust":
        return {"DATABASE_URL": url, "AUTH_MODE": "trust"}
    return {"DATABASE_URL": url, **token_mode_env(issuer if mode == "jwt" else None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        url = migrated_sqlite(tmp / "auth.db")
        names = seed_features(tmp / "auth.db", 10_000)
        token = issue_developer_token(url)
        issuer = OidcIssuer()
        jwt = developer_jwt(issuer)  # valid for the whole run: a developer, as the token is
        bare = Gunicorn("bench.bare_app:app", {})
        try:
            wait_until_answering(bare, "/bare")
            bare_lua = READ_LUA % {"path": "/bare", "auth": ""}
            rows.append(
                ("bare Flask endpoint (ceiling)", measure(bare, bare_lua, args.seconds, tmp))
            )
        finally:
            bare.stop()
        try:
            for mode, (read, create) in scripts(token, jwt, names[5003]).items():
                server = Gunicorn("wsgi:app", server_env(mode, url, issuer))
                try:
                    wait_until_answering(server, "/health")
                    for label, script in ((f"read one feature by name, {mode}", read),
                                          (f"create, {mode}", create)):  # fmt: skip
                        if script is not None:
                            rows.append((label, measure(server, script, args.seconds, tmp)))
                finally:
                    server.stop()
            in_process = token_check_us(url, token), jwt_check_us(issuer, jwt)
        finally:
            issuer.stop()
    report(rows, in_process)


def report(rows: list[tuple[str, dict[str, float]]], in_process_us: tuple[float, float]) -> None:
    bare = rows[0][1]["rps"]
    print(f"{'scenario':34} {'req/s':>8} {'of bare':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU µs/req':>10} {'non-2xx':>8}")  # fmt: skip
    for label, f in rows:
        print(f"{label:34} {f['rps']:8.0f} {f['rps'] / bare:8.0%} {f['p50_ms']:8.2f} "
              f"{f['p99_ms']:8.2f} {f['cpu_us']:10.0f} {f['non_2xx']:8.0f}")  # fmt: skip
    figures = dict(rows)
    for action in ("read one feature by name", "create"):
        trust, token = figures[f"{action}, trust"], figures[f"{action}, token"]
        print(f"token mode, {action}: +{token['cpu_us'] - trust['cpu_us']:.0f} µs server CPU "
              f"per request, {token['rps'] / trust['rps']:.0%} of trust mode's req/s")  # fmt: skip
    trust = figures["read one feature by name, trust"]
    jwt = figures["read one feature by name, jwt"]
    print(f"JWT, read one feature by name: +{jwt['cpu_us'] - trust['cpu_us']:.0f} µs server CPU "
          f"per request, {jwt['rps'] / trust['rps']:.0%} of trust mode's req/s")  # fmt: skip
    token_us, jwt_us = in_process_us
    print(f"token check in process (authenticate, one primary-key lookup): "
          f"median {token_us:.0f} µs")  # fmt: skip
    print(f"JWT check in process (RS256 signature and claims, key cached): "
          f"median {jwt_us:.0f} µs")  # fmt: skip


if __name__ == "__main__":
    main()
