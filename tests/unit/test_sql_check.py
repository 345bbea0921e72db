import pytest

from feature_gateway.domain.sql_check import UnsafeQueryError, check_read_only_query


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ?",
        "select a, b from t where c = :c",
        "WITH recent AS (SELECT * FROM trips WHERE ts > now() - interval '1 day') "
        "SELECT count(*) FROM recent",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT * FROM t;",
        "  SELECT 'DROP TABLE x' AS not_a_drop  ",
        "SELECT x FROM t -- DELETE FROM t",
        "SELECT x FROM t; -- a trailing note",
        "SELECT x FROM t; /* a trailing note */",
        "SELECT '/* in a string */' AS a /* a comment */ -- a line comment with /*",
    ],
)
def test_single_read_only_statements_are_accepted(sql):
    check_read_only_query(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE driver_hourly_stats", "DROP"),
        ("DELETE FROM t", "DELETE"),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("INSERT INTO t SELECT * FROM s", "INSERT"),
        ("CREATE TABLE t (a int)", "CREATE"),
        ("ALTER TABLE t ADD COLUMN b int", "ALTER"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT 1; DROP TABLE t", "exactly one statement"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT * INTO backup FROM t", "INTO"),
        ("SELECT * FROM t FOR UPDATE", "locking"),
        ("VACUUM", "VACUUM"),
        ("SELEC conv_rate FROM t", "not valid SQL"),
        ("", "empty"),
        ("   ;  ", "empty"),
        ("SELECT 1 /* /* */ ; DROP TABLE t; /* */ */", "contains '/\\*'"),
        ("SELECT " + "(" * 50 + "1" + ")" * 50, "too deeply"),
        ("SELECT " + "NOT " * 2_000 + "1", "too deeply"),
    ],
)
def test_anything_but_one_read_only_statement_is_rejected_with_a_reason(sql, reason):
    with pytest.raises(UnsafeQueryError, match=reason):
        check_read_only_query(sql)


def test_a_query_checked_again_gets_the_same_verdict():
    accepted, refused = "SELECT a FROM t WHERE b = 1", "SELECT a FROM t; DELETE FROM t"
    for _ in range(2):
        check_read_only_query(accepted)
        with pytest.raises(UnsafeQueryError, match="exactly one statement"):
            check_read_only_query(refused)


def test_the_remembered_acceptances_are_bounded_and_a_forgotten_one_is_checked_anew():
    from feature_gateway.domain import sql_check

    for n in range(sql_check.ACCEPTED_MEMORY + 10):
        check_read_only_query(f"SELECT {n} AS n")
    assert len(sql_check._accepted) == sql_check.ACCEPTED_MEMORY
    check_read_only_query("SELECT 0 AS n")  # the oldest, forgotten: parsed again, accepted
    assert len(sql_check._accepted) == sql_check.ACCEPTED_MEMORY
