"""The stack's PostgreSQL 15 cluster with TimescaleDB preloaded, under ``<var>/pg``.

PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` user and the server runs as that user.  The cluster listens on
127.0.0.1 only (no Unix socket: paths under a deep work tree overflow its
107-byte limit), with scram-sha-256 for every TCP login.  The superuser's
random password is kept in ``<var>/secrets/pg-superuser`` (mode 0600); the
application role and database come from ``db.url`` in the settings.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from civicgrid.settings import Settings
from civicgrid.stack.process import ManagedProcess, RunUser, StackError, require_free_ports, tail
from civicgrid.stack.tls import local_tls
from civicgrid.store.db import conninfo_parts

CONF_NAME = "civicgrid.conf"
TLS_CERT, TLS_KEY = "civicgrid-server.crt", "civicgrid-server.key"


class PostgresService:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        var = settings.stack.var_dir.resolve()
        self.data_dir = var / "pg"
        self.secret_path = var / "secrets" / "pg-superuser"
        self.bindir = settings.stack.pg_bindir
        parts = conninfo_parts(settings.db)
        self.host, self.port = parts["host"], int(parts["port"])
        self.app_user, self.app_password, self.dbname = parts["user"], parts.get("password", ""), parts["dbname"]
        self.process = ManagedProcess(self.name, var / "run", var / "log" / "postgres.log")
        self.run_user = _postgres_user()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._check_binaries()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_config()
        require_free_ports(self.host, [(self.port, "CIVICGRID_DB__URL")])
        self.process.start([str(self.bindir / "postgres"), "-D", str(self.data_dir)],
                           cwd=self.data_dir, user=self.run_user)
        self.process.wait_ready(self.answers, self.settings.stack.start_timeout_s, "SELECT 1")
        self._bootstrap_database()

    def stop(self) -> bool:
        # SIGINT is PostgreSQL's "fast" shutdown: SIGTERM would wait for every client to leave.
        return self.process.stop(signal.SIGINT, timeout_s=30)

    def answers(self) -> bool:
        try:
            with self._superuser_connection(connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def health(self) -> str:
        """'ok' when the application role can run SELECT 1 in its database, else the error."""
        try:
            with psycopg.connect(host=self.host, port=self.port, user=self.app_user, password=self.app_password,
                                 dbname=self.dbname, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0]
        return "ok"

    # -- steps -------------------------------------------------------------
    def _check_binaries(self) -> None:
        if not (self.bindir / "postgres").exists():
            raise StackError(f"PostgreSQL 15 is not installed ({self.bindir}/postgres missing): run `make setup`")
        pkglib = Path("/usr/lib/postgresql/15/lib")
        if self.bindir == Path("/usr/lib/postgresql/15/bin") and not (pkglib / "timescaledb.so").exists():
            raise StackError("TimescaleDB is not installed for PostgreSQL 15: run `make setup`")

    def _initdb(self) -> None:
        _check_reachable(self.data_dir.parent, self.run_user)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.secret_path.parent.mkdir(parents=True, exist_ok=True)
        self.secret_path.parent.chmod(0o700)
        password = secrets.token_urlsafe(24)
        self.secret_path.write_text(password + "\n")
        self.secret_path.chmod(0o600)
        # initdb wants an empty data directory, so the password file waits beside it.
        pwfile = self.process.pid_path.parent / "pg-initdb-pwfile"
        pwfile.parent.mkdir(parents=True, exist_ok=True)
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if self.run_user:
            for path in (self.data_dir, pwfile):
                os.chown(path, self.run_user.uid, self.run_user.gid)
        self.process.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.process.log_path.open("ab") as log:
            done = subprocess.run(
                [str(self.bindir / "initdb"), "-D", str(self.data_dir), "--username=postgres",
                 f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=peer",
                 "--encoding=UTF8", "--no-locale"],
                cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT, check=False, timeout=120,
                user=self.run_user.uid if self.run_user else None,
                group=self.run_user.gid if self.run_user else None,
                extra_groups=[] if self.run_user else None,
            )
        pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)  # so the next `stack up` starts afresh
            raise StackError(f"initdb failed with code {done.returncode}:\n{tail(self.process.log_path)}")

    def _write_config(self) -> None:
        fsync = "on" if self.settings.stack.pg_durable else "off"
        conf = "\n".join([
            "# Generated by civicgrid stack; edits are overwritten at every start.",
            f"port = {self.port}",
            f"listen_addresses = '{self.host}'",
            "unix_socket_directories = ''",
            "shared_preload_libraries = 'timescaledb'",
            "timescaledb.telemetry_level = off",
            "max_connections = 200",
            "shared_buffers = 256MB",
            f"fsync = {fsync}",
            f"synchronous_commit = {fsync}",
            f"full_page_writes = {fsync}",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] '",
            # TLS for clients that ask (sslmode=verify-full with sslrootcert=<var>/tls/ca.crt); plaintext still
            # answers on 127.0.0.1 (docs/security.md).
            "ssl = on",
            f"ssl_cert_file = '{TLS_CERT}'",
            f"ssl_key_file = '{TLS_KEY}'",
            "",
        ])
        self._write_tls()
        conf_path = self.data_dir / CONF_NAME
        conf_path.write_text(conf)
        main_conf = self.data_dir / "postgresql.conf"
        text = main_conf.read_text()
        include = f"include_if_exists = '{CONF_NAME}'"
        if include not in text:
            main_conf.write_text(text + f"\n{include}\n")
        if self.run_user:
            for path in (conf_path, main_conf):
                os.chown(path, self.run_user.uid, self.run_user.gid)

    def _write_tls(self) -> None:
        """The stack CA's server certificate and key in the data directory, owned by PostgreSQL's user (it
        refuses a key others may read)."""
        tls = local_tls(self.settings.stack.var_dir.resolve() / "tls", self.host)
        for source, name, mode in ((tls.server_cert, TLS_CERT, 0o644), (tls.server_key, TLS_KEY, 0o600)):
            target = self.data_dir / name
            target.write_bytes(source.read_bytes())
            target.chmod(mode)
            if self.run_user:
                os.chown(target, self.run_user.uid, self.run_user.gid)

    def _superuser_connection(self, dbname: str = "postgres", connect_timeout: int = 5) -> psycopg.Connection:
        password = self.secret_path.read_text().strip()
        return psycopg.connect(host=self.host, port=self.port, user="postgres", password=password,
                               dbname=dbname, connect_timeout=connect_timeout, autocommit=True)

    def _bootstrap_database(self) -> None:
        """Application role (password kept in step with settings), its database, and TimescaleDB in it."""
        role, db = sql.Identifier(self.app_user), sql.Identifier(self.dbname)
        with self._superuser_connection() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.app_user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(self.app_password)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
        # CREATE EXTENSION timescaledb (and postgis, for the console's vector tiles) needs a superuser;
        # the migrations then find them present.
        with self._superuser_connection(self.dbname) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def _postgres_user() -> RunUser | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StackError("running as root needs the 'postgres' system user: run `make setup`") from exc
    return RunUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _check_reachable(directory: Path, user: RunUser | None) -> None:
    """The postgres user must be able to walk down to the data directory."""
    if user is None:
        return
    for parent in [directory, *directory.parents]:
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        if parent.stat().st_uid != user.uid and not mode & 0o001:
            raise StackError(
                f"the postgres user cannot enter {parent} (mode {oct(mode & 0o777)}): "
                f"run `chmod o+x {parent}` or set CIVICGRID_STACK__VAR_DIR to a directory it can reach"
            )
