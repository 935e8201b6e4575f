"""Multi-host DSNs reach the primary: `primary_dsn` and `connect` against a real PostgreSQL."""

from __future__ import annotations

import pytest
from hubsense.devstack.ports import free_port
from hubsense.devstack.postgres import PostgresServer

from hubsense.db.connect import connect, primary_dsn
from hubsense.errors import ConfigError, ServiceError


def test_a_single_host_dsn_is_left_alone() -> None:
    for dsn in ("postgresql://u:pw@db:5432/hubsense", "host=db dbname=hubsense"):
        assert primary_dsn(dsn) == dsn


def test_several_hosts_get_read_write_in_the_dsns_own_form() -> None:
    assert (
        primary_dsn("postgresql://u:pw@db1:5432,db2:5432/hubsense?sslmode=require")
        == "postgresql://u:pw@db1:5432,db2:5432/hubsense?sslmode=require"
        "&target_session_attrs=read-write"
    )
    assert (
        primary_dsn("host=db1,db2 port=5432,5433 dbname=hubsense")
        == "host=db1,db2 port=5432,5433 dbname=hubsense target_session_attrs=read-write"
    )


def test_writable_attributes_are_kept() -> None:
    for attrs in ("read-write", "primary"):
        dsn = f"postgresql://db1,db2/hubsense?target_session_attrs={attrs}"
        assert primary_dsn(dsn) == dsn


@pytest.mark.parametrize("attrs", ["any", "read-only", "standby", "prefer-standby"])
def test_an_attribute_that_may_pick_a_standby_is_refused(attrs: str) -> None:
    with pytest.raises(ConfigError) as caught:
        primary_dsn(f"postgresql://u:secret@db1,db2/hubsense?target_session_attrs={attrs}")
    message = str(caught.value)
    assert f"target_session_attrs={attrs} may connect to a standby" in message
    assert "secret" not in message and "\n" not in message


@pytest.mark.service
def test_connect_skips_a_dead_host_and_lands_on_the_live_one(pg_server: PostgresServer) -> None:
    dead = free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{dead},127.0.0.1:{pg_server.port}/postgres"
    with connect(dsn, autocommit=True, connect_timeout=3) as conn:
        assert conn.info.port == pg_server.port
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("off",)


@pytest.mark.service
def test_connect_refuses_servers_that_cannot_write(pg_server: PostgresServer) -> None:
    # A database whose sessions start read-only looks, to libpq's read-write check, like a
    # standby: with only such servers in the list there is no primary to reach.
    pg_server.create_database("t_primary_dsn_ro")
    try:
        with connect(pg_server.dsn("postgres"), autocommit=True) as admin:
            admin.execute("ALTER DATABASE t_primary_dsn_ro SET default_transaction_read_only = on")
        host = f"127.0.0.1:{pg_server.port}"
        with pytest.raises(ServiceError) as caught:
            connect(f"postgresql://postgres@{host},{host}/t_primary_dsn_ro", connect_timeout=3)
        assert "read-write" in str(caught.value) or "read-only" in str(caught.value)
        assert "\n" not in str(caught.value)
    finally:
        pg_server.drop_database("t_primary_dsn_ro")
