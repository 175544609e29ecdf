"""Throwaway redis-server and PostgreSQL instances for tests (plain helpers, no pytest).

Both listen on 127.0.0.1 on a free port, keep their files in a private temporary
directory, and can be stopped and started again on the same port (and, for
PostgreSQL, the same data directory) to simulate outages.

    with run_redis() as redis, run_postgres() as pg:
        url = pg.create_database("t1")   # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
        redis.stop(); redis.start()      # redis keeps no data across restarts (--save '')
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "PostgresServer",
    "RedisServer",
    "ServerError",
    "free_port",
    "run_postgres",
    "run_redis",
]

START_TIMEOUT = 30.0  # seconds; generous for slow CI machines
POLL_INTERVAL = 0.02


class ServerError(RuntimeError):
    """A test server is missing, failed to start, or failed to stop."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- redis


class RedisServer:
    """One `redis-server` process; `stop()`/`start()` keep the port (not the data)."""

    def __init__(self, port: int | None = None, *, base_dir: Path | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServerError("redis-server not found: apt-get install -y redis-server")
        self.executable = exe
        self.port = port or free_port()
        self._own_dir = base_dir is None
        self.dir = Path(base_dir or tempfile.mkdtemp(prefix="test-redis-"))
        self.log_path = self.dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start (or restart after `stop()`) on the same port; no-op if running."""
        if self.running:
            return
        cmd = [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", "",  # stdout, redirected to redis.log
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            # Own session: a Ctrl-C in the terminal must not kill it before teardown.
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.dir, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ping():
            if self._proc.poll() is not None:
                raise ServerError(
                    f"redis-server exited with {self._proc.returncode} on port {self.port}:\n"
                    + _tail(self.log_path)
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"redis-server did not answer PING on port {self.port} within "
                    f"{START_TIMEOUT}s:\n" + _tail(self.log_path)
                )
            time.sleep(POLL_INTERVAL)

    def _command(self, *args: str, timeout: float = 1.0) -> bytes:
        """Send one RESP command over a fresh socket and return the first reply line."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.strip()

    def ping(self) -> bool:
        try:
            return self._command("PING") == b"+PONG"
        except OSError:
            return False

    def flushall(self) -> None:
        reply = self._command("FLUSHALL")
        if reply != b"+OK":
            raise ServerError(f"FLUSHALL failed: {reply!r}")

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 10 s); the port is free when this returns."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def run_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    atexit.register(server.close)  # in case the with-block is never left normally
    try:
        server.start()
        yield server
    finally:
        server.close()
        atexit.unregister(server.close)


# ---------------------------------------------------------------------- postgresql


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.parent.name)) or (0,)


def find_postgres_bindir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: Debian's /usr/lib/postgresql/<ver>/bin
    (highest version), else PATH, else `pg_config --bindir`."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and (Path(out) / "pg_ctl").exists() and (Path(out) / "initdb").exists():
            return Path(out)
    raise ServerError("PostgreSQL server binaries not found: apt-get install -y postgresql")


class PostgresServer:
    """A private PostgreSQL cluster (trust auth, superuser `postgres`).

    PostgreSQL refuses to run as root, so as root the cluster directory belongs to
    the `postgres` system user and initdb/pg_ctl run through `runuser -u postgres --`.
    """

    SETTINGS = {
        "listen_addresses": "'127.0.0.1'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        "shared_buffers": "32MB",
        "max_wal_size": "1GB",
        "checkpoint_timeout": "30min",
        "log_min_messages": "warning",
        "log_min_duration_statement": "-1",
    }

    def __init__(self, port: int | None = None) -> None:
        self.bindir = find_postgres_bindir()
        self.port = port or free_port()
        self._prefix: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError(
                    "running as root but there is no `postgres` user "
                    "(apt-get install -y postgresql creates it)"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServerError("running as root but runuser is missing (util-linux)")
            self._prefix = [runuser, "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="test-postgres-"))
        if owner is not None:
            # mkdtemp makes 0700 root dirs; the postgres user needs its own tree,
            # and every parent must be traversable (e.g. not under /root).
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            if self._run(["test", "-w", str(self.dir)], check=False).returncode != 0:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise ServerError(
                    f"user postgres cannot write {self.dir}; set TMPDIR to a directory "
                    "every user can traverse (e.g. /tmp)"
                )
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir / "sock"
        self.log_path = self.dir / "postgres.log"
        self._initialized = False

    def _run(self, cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self._prefix, *cmd], cwd=self.dir, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise ServerError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                + _tail(self.log_path)
            )
        return proc

    def _pg(self, tool: str) -> str:
        return str(self.bindir / tool)

    def _init(self) -> None:
        self._run(["mkdir", "-p", str(self.socket_dir)])
        self._run([
            self._pg("initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ])  # fmt: skip
        conf = dict(self.SETTINGS, port=str(self.port))
        conf["unix_socket_directories"] = f"'{self.socket_dir}'"
        # Appending as root keeps the file's owner (postgres).
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# tests/servers.py\n")
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self._initialized = True

    @property
    def running(self) -> bool:
        if not self._initialized:
            return False
        status = self._run([self._pg("pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return status.returncode == 0

    def start(self) -> None:
        """initdb on first call, then `pg_ctl start -w`; same port and data on restart."""
        if not self._initialized:
            self._init()
        elif self.running:
            return
        self._run([
            self._pg("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
            "-w", "-t", str(int(START_TIMEOUT)), "start",
        ])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast` (or "immediate"), waiting until it is down."""
        if self.running:
            self._run([
                self._pg("pg_ctl"), "-D", str(self.data_dir), "-m", mode,
                "-w", "-t", str(int(START_TIMEOUT)), "stop",
            ])  # fmt: skip

    def close(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq conninfo for psycopg.connect()."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE and return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE, disconnecting anything still connected to it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def run_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    atexit.register(server.close)
    try:
        server.start()
        yield server
    finally:
        server.close()
        atexit.unregister(server.close)
