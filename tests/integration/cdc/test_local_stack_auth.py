"""The local stack's databases let in only who has the stack's password, and its files with them are private."""
from __future__ import annotations

import stat
from pathlib import Path

import psycopg2
import pymysql
import pytest

from cdc.local.stack import ENV_FILE, STATE_FILE, StackState
from core.mysql import fetch_all
from core.settings import DatabaseUrl, MySqlSettings, SourceSettings

pytestmark = pytest.mark.integration

ACCESS_DENIED = 1045
# Accounts that log in with an empty password (mariadb.sys has none but is locked).
PASSWORDLESS_ACCOUNTS = """
SELECT User, Host FROM mysql.global_priv
WHERE JSON_VALUE(Priv, '$.authentication_string') = '' AND JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password'
  AND IFNULL(JSON_VALUE(Priv, '$.account_locked'), 'false') = 'false'
"""


def postgres(stack_env: dict[str, str]) -> DatabaseUrl:
    return DatabaseUrl.parse(SourceSettings.from_env(stack_env).dsn, variable="PG_DSN", default_port=5432)


def mariadb(stack_env: dict[str, str]) -> DatabaseUrl:
    return MySqlSettings.from_env(stack_env).url


def postgres_refusal(**connection: object) -> str:
    """The error of a connection to the stack's PostgreSQL that must be refused."""
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(**connection, connect_timeout=5).close()
    return str(refused.value)


def mariadb_refusal(**connection: object) -> int:
    """The error code of a connection to the stack's MariaDB that must be refused."""
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(**connection, connect_timeout=5).close()
    return int(refused.value.args[0])


def test_postgres_refuses_a_tcp_connection_without_password(stack_env: dict[str, str]) -> None:
    url = postgres(stack_env)

    error = postgres_refusal(host=url.host, port=url.port, user=url.user, dbname=url.database, password="")

    assert "no password supplied" in error


def test_postgres_refuses_a_socket_connection_without_password(stack_env: dict[str, str], stack_dir: Path) -> None:
    url = postgres(stack_env)

    error = postgres_refusal(host=str(stack_dir / "postgres"), port=url.port, user=url.user, dbname=url.database,
                             password="")

    assert "no password supplied" in error


def test_postgres_refuses_a_replication_connection_without_password(stack_env: dict[str, str]) -> None:
    url = postgres(stack_env)

    error = postgres_refusal(host=url.host, port=url.port, user=url.user, dbname=url.database, password="",
                             replication="database")

    assert "no password supplied" in error


def test_postgres_refuses_a_wrong_password(stack_env: dict[str, str]) -> None:
    url = postgres(stack_env)

    error = postgres_refusal(host=url.host, port=url.port, user=url.user, dbname=url.database, password="wrong")

    assert f'password authentication failed for user "{url.user}"' in error


def test_every_rule_of_postgres_asks_for_the_password(stack_env: dict[str, str]) -> None:
    conn = psycopg2.connect(SourceSettings.from_env(stack_env).dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT type, auth_method FROM pg_hba_file_rules ORDER BY type")
            rules = cur.fetchall()
    finally:
        conn.close()

    assert rules == [("host", "scram-sha-256"), ("local", "scram-sha-256")]


def test_mariadb_refuses_root_over_tcp_without_password(stack_env: dict[str, str]) -> None:
    url = mariadb(stack_env)

    assert mariadb_refusal(host=url.host, port=url.port, user="root", password="") == ACCESS_DENIED


def test_mariadb_refuses_root_over_its_socket_without_password(stack_dir: Path) -> None:
    socket = stack_dir / "mariadb" / "mysqld.sock"

    assert mariadb_refusal(unix_socket=str(socket), user="root", password="") == ACCESS_DENIED


@pytest.mark.parametrize("user", ["", "nobody"])
def test_mariadb_refuses_an_anonymous_login(stack_env: dict[str, str], stack_dir: Path, user: str) -> None:
    url = mariadb(stack_env)

    assert mariadb_refusal(host=url.host, port=url.port, user=user, password="") == ACCESS_DENIED
    assert mariadb_refusal(unix_socket=str(stack_dir / "mariadb" / "mysqld.sock"), user=user,
                           password="") == ACCESS_DENIED


def test_mariadb_has_no_account_without_a_password(stack_env: dict[str, str]) -> None:
    rows = fetch_all(MySqlSettings.from_env(stack_env), PASSWORDLESS_ACCOUNTS)

    assert rows == []


def test_each_database_has_a_password_of_its_own_from_the_stack(stack_env: dict[str, str], stack_dir: Path) -> None:
    passwords = StackState.load(stack_dir).passwords

    assert (postgres(stack_env).password, mariadb(stack_env).password) == (passwords["postgres"], passwords["mariadb"])
    assert len(set(passwords.values())) == 2 and all(len(password) >= 32 for password in passwords.values())


@pytest.mark.parametrize("name", [ENV_FILE, STATE_FILE])
def test_the_files_holding_the_passwords_are_readable_by_their_owner_only(stack_dir: Path, name: str) -> None:
    assert stat.S_IMODE((stack_dir / name).stat().st_mode) == 0o600
