"""Real processes for the deployment tests: gunicorn, nginx, a private PostgreSQL.

Every wait is bounded, every process is stopped (and killed if it will not stop) when its
context manager exits, and every output goes to a file, never to a pipe that could fill.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SRC = PROJECT_ROOT / "src"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def find_binary(
    name: str, *extra_globs: str, required_in_ci: bool = False, package: str | None = None
) -> str:
    """The path of an executable, else a skip (or, for a CI requirement, a failure)."""
    candidates = [shutil.which(name), "/usr/sbin/" + name]
    for pattern in extra_globs:
        candidates.extend(sorted(glob.glob(pattern), reverse=True))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = f"{name} is not installed"
    if required_in_ci and under_ci():
        pytest.fail(f"{message}; CI must install it (apt-get install -y {package or name})")
    pytest.skip(f"{message}; install it to run this test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw_body: bytes | None = None,
    timeout: float = 10,
    source_ip: str | None = None,
    host: str = "127.0.0.1",
) -> Reply:
    """One HTTP request on a new connection to host:port (from ``source_ip``)."""
    body = raw_body if raw_body is not None else None
    all_headers = dict(headers or {})
    if payload is not None:
        body = json.dumps(payload).encode()
    if body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    source = (source_ip, 0) if source_ip else None
    connection = http.client.HTTPConnection(host, port, timeout=timeout, source_address=source)
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(
    port: int, path: str, status: int = 200, host: str = "127.0.0.1"
) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return call(port, "GET", path, timeout=2, host=host).status == status
        except OSError:
            return False

    return check


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Signal a process and wait for it; kill it if it outlives the timeout."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise
    return int(process.returncode)


def process_gone(pid: int) -> bool:
    """Whether the process has ended (a zombie waiting for whoever inherited it counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def app_environment(**overrides: str) -> dict[str, str]:
    """The worktree's code first on the path, whatever is installed in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def run_migrations(database_url: str, log_dir: Path) -> None:
    """The deployment's one-shot migration step, run as its own process."""
    with open(log_dir / "alembic.log", "wb") as log:
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=PROJECT_ROOT,
            env=app_environment(DATABASE_URL=database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=60,
        )


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    metrics_dir: Path
    host: str = "127.0.0.1"

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for text in self.log_path.read_text(encoding="utf-8").splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
        return lines

    def worker_pids_booted(self) -> list[int]:
        return [
            int(line["message"].rsplit(" ", 1)[1].rstrip(")"))
            for line in self.log_lines()
            if line["message"].startswith("Booting worker with pid")
        ]

    def worker_pids_alive(self) -> list[int]:
        """The master's children now (gunicorn's workers), read from /proc."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:  # the master is gone
            return []

    def kill_all(self) -> None:
        """kill -9 of the master and every worker at once (they share a process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def gunicorn(
    database_url: str,
    work_dir: Path,
    *,
    workers: int,
    host: str = "127.0.0.1",
    port: int | None = None,
    netns: str | None = None,
    **env: str,
) -> Iterator[Gunicorn]:
    """gunicorn with the project's gunicorn.conf.py, as every deployment starts it.

    ``netns`` runs it inside that network namespace (``ip netns exec``, which execs, so the
    process is still gunicorn's master); it gets a process group of its own either way.
    """
    port = port or free_port()
    metrics_dir = work_dir / "metrics"
    metrics_dir.mkdir()
    log_path = work_dir / "gunicorn.log"
    environment = app_environment(
        DATABASE_URL=database_url,
        GUNICORN_BIND=f"{host}:{port}",
        WEB_CONCURRENCY=str(workers),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        **env,
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    if netns:
        command = [find_binary("ip"), "netns", "exec", netns, *command]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process, port, log_path, metrics_dir, host)
    try:
        wait_until(
            answers(port, "/livez", host=host), timeout=30, what=f"gunicorn on {host} to answer"
        )
        yield server
    finally:
        try:
            stop(process)
        finally:  # workers a killed master left behind, if any
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def nginx_config(
    template: str, *, listen_port: int, upstreams: Sequence[str], work_dir: Path
) -> str:
    """deploy/nginx.conf pointed at this test's gunicorns ("host:port"), port and logs."""
    replacements = {
        "server app:8000;": "\n    ".join(f"server {upstream};" for upstream in upstreams),
        "listen 80;": f"listen 127.0.0.1:{listen_port};",
        "/var/log/nginx/": f"{work_dir}/",
    }
    for old, new in replacements.items():
        assert template.count(old) == 1, f"deploy/nginx.conf should contain {old!r} once"
        template = template.replace(old, new)
    return template


@contextmanager
def nginx(binary: str, upstreams: Sequence[str], work_dir: Path) -> Iterator[int]:
    """nginx in the foreground with deploy/nginx.conf as its only site; yields its port."""
    port = free_port()
    template = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    site = nginx_config(template, listen_port=port, upstreams=upstreams, work_dir=work_dir)
    # Workers drop root privileges (to nobody): they must be able to reach this folder.
    work_dir.chmod(0o755)
    (work_dir / "site.conf").write_text(site, encoding="utf-8")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {work_dir}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main_config = work_dir / "nginx.conf"
    main_config.write_text(
        f"""daemon off;
worker_processes 2;
pid {work_dir}/nginx.pid;
error_log {work_dir}/error.log info;
events {{ worker_connections 256; }}
http {{
{temp_paths}
    include {work_dir}/site.conf;
}}
""",
        encoding="utf-8",
    )
    command: Sequence[str] = [
        binary,
        "-p",
        f"{work_dir}/",
        "-e",
        f"{work_dir}/error.log",
        "-c",
        str(main_config),
    ]
    checked = subprocess.run(
        [*command, "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert checked.returncode == 0, f"nginx rejects deploy/nginx.conf:\n{checked.stderr}"
    with open(work_dir / "nginx.out", "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(answers(port, "/livez"), timeout=15, what="nginx to proxy /livez")
        yield port
    finally:
        stop(process, signal.SIGQUIT)  # nginx's graceful shutdown


PG_BIN_GLOB = "/usr/lib/postgresql/*/bin/"


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of the test's own, to stop, start and restart at will."""

    pg_ctl: str
    data_dir: Path
    port: int
    as_user: Sequence[str]
    listen: Sequence[str] = ("127.0.0.1",)

    @property
    def url(self) -> str:
        return self.url_at(self.listen[0])

    def url_at(self, address: str) -> str:
        return f"postgresql+psycopg://postgres@{address}:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data_dir), "-w", "-t", "30", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses={','.join(self.listen)}"
            " -c fsync=off"
        )
        self._pg_ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()


@contextmanager
def _server_home(prefix: str) -> Iterator[tuple[Path, list[str]]]:
    """A temporary folder for a server's files, and the command prefix to run it with.

    initdb and pgbouncer refuse to run as root, so as root they run as the ``postgres``
    user, who then owns the folder."""
    as_user: list[str] = []
    top = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run servers as")
            as_user = [find_binary("runuser"), "-u", "postgres", "--"]
            os.chown(top, account.pw_uid, account.pw_gid)
        yield top, as_user
    finally:
        shutil.rmtree(top, ignore_errors=True)


@contextmanager
def private_postgres(
    listen: Sequence[str] = ("127.0.0.1",),
    trusted_networks: Sequence[str] = (),
    *,
    required_in_ci: bool = False,
    settings: Sequence[str] = (),
) -> Iterator[PrivatePostgres]:
    """initdb + pg_ctl into a temporary folder, on a free port; skipped without the binaries.

    ``trusted_networks`` (CIDR) may connect without a password, besides loopback (which may
    also replicate). With ``required_in_ci``, missing binaries fail the run under CI=true
    instead of skipping. ``settings`` are ``name = value`` lines for postgresql.conf.
    """
    pg_ctl = find_binary(
        "pg_ctl", PG_BIN_GLOB + "pg_ctl", required_in_ci=required_in_ci, package="postgresql"
    )
    initdb = str(Path(pg_ctl).with_name("initdb"))
    if not os.access(initdb, os.X_OK):
        pytest.skip(f"initdb is not installed beside {pg_ctl}")
    with _server_home("fmg-pg-") as (top, as_user):
        data_dir = top / "data"
        subprocess.run(
            [*as_user, initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with open(data_dir / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.writelines(f"host all all {network} trust\n" for network in trusted_networks)
        with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{line}\n" for line in settings)
        server = PrivatePostgres(pg_ctl, data_dir, free_port(), as_user, tuple(listen))
        with _running(server):
            yield server


@contextmanager
def _running(server: PrivatePostgres) -> Iterator[PrivatePostgres]:
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop("immediate")


@contextmanager
def streaming_replica(primary: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """A hot standby of ``primary`` on a port of its own: ``pg_basebackup -R`` (which
    writes the primary's address into the copy and marks it a standby), then started."""
    pg_basebackup = str(Path(primary.pg_ctl).resolve().with_name("pg_basebackup"))
    with _server_home("fmg-replica-") as (top, as_user):
        data_dir = top / "data"
        subprocess.run(
            [*as_user, pg_basebackup, "-h", primary.listen[0], "-p", str(primary.port),
             "-U", "postgres", "-D", str(data_dir), "-R", "-X", "stream", "-c", "fast",
             "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server = PrivatePostgres(primary.pg_ctl, data_dir, free_port(), as_user, primary.listen)
        with _running(server):
            yield server


@dataclass
class PgBouncer:
    port: int
    log_path: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


@contextmanager
def pgbouncer(
    host: str, port: int, *, pool_mode: str = "transaction", pool_size: int = 20
) -> Iterator[PgBouncer]:
    """Debian's PgBouncer on a free port, in front of every database of ``host:port``
    (trusting user postgres, as the test servers do); mandatory under CI=true."""
    binary = find_binary("pgbouncer", required_in_ci=True)
    with _server_home("fmg-pgbouncer-") as (top, as_user):
        listen_port = free_port()
        (top / "users.txt").write_text('"postgres" ""\n', encoding="utf-8")
        config = top / "pgbouncer.ini"
        config.write_text(
            f"""[databases]
* = host={host} port={port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {top}/users.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {top}/pgbouncer.log
pidfile = {top}/pgbouncer.pid
""",
            encoding="utf-8",
        )
        command = [binary, str(config)]
        if as_user:  # root: PgBouncer switches to the user owning its files itself
            command[1:1] = ["-u", "postgres"]
            for path in top.iterdir():
                shutil.chown(path, user="postgres")
        with open(top / "pgbouncer.out", "wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: _accepts(listen_port), timeout=15, what="pgbouncer to listen")
            yield PgBouncer(listen_port, top / "pgbouncer.log")
        finally:
            stop(process)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
