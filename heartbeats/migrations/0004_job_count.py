"""The number of jobs, kept by triggers so a checker pass reads it without scanning the table.

An exact `count(*)` over job_heartbeats grows with the table (23 ms at a million jobs), and the
checker needs the total every pass. The counter is split into shards, summed on read, so
concurrent job creations on PostgreSQL do not queue on one row; PostgreSQL counts per statement
through transition tables (one counter update for a bulk insert or delete, nothing at all for
an upsert that updates), SQLite per row (it has no statement triggers, and one writer). The
table is not a model: `flush` then leaves it alone, and the triggers empty it with the jobs.
"""

from django.db import migrations

SHARDS = 16

POSTGRES = f"""
CREATE TABLE job_heartbeats_count (
    shard smallint PRIMARY KEY,
    jobs bigint NOT NULL
);
CREATE FUNCTION job_heartbeats_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_heartbeats_count (shard, jobs)
    SELECT floor(random() * {SHARDS})::smallint, count(*) FROM changed HAVING count(*) > 0
    ON CONFLICT (shard) DO UPDATE SET jobs = job_heartbeats_count.jobs + EXCLUDED.jobs;
    RETURN NULL;
END $$;
CREATE FUNCTION job_heartbeats_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_heartbeats_count (shard, jobs)
    SELECT floor(random() * {SHARDS})::smallint, -count(*) FROM changed HAVING count(*) > 0
    ON CONFLICT (shard) DO UPDATE SET jobs = job_heartbeats_count.jobs + EXCLUDED.jobs;
    RETURN NULL;
END $$;
CREATE FUNCTION job_heartbeats_count_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_heartbeats_count;
    RETURN NULL;
END $$;
LOCK TABLE job_heartbeats IN SHARE MODE;
CREATE TRIGGER job_heartbeats_count_insert AFTER INSERT ON job_heartbeats
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION job_heartbeats_count_add();
CREATE TRIGGER job_heartbeats_count_delete AFTER DELETE ON job_heartbeats
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION job_heartbeats_count_remove();
CREATE TRIGGER job_heartbeats_count_truncate AFTER TRUNCATE ON job_heartbeats
    FOR EACH STATEMENT EXECUTE FUNCTION job_heartbeats_count_clear();
INSERT INTO job_heartbeats_count (shard, jobs) SELECT 0, count(*) FROM job_heartbeats;
"""

POSTGRES_REVERSE = """
DROP TRIGGER job_heartbeats_count_truncate ON job_heartbeats;
DROP TRIGGER job_heartbeats_count_delete ON job_heartbeats;
DROP TRIGGER job_heartbeats_count_insert ON job_heartbeats;
DROP FUNCTION job_heartbeats_count_clear();
DROP FUNCTION job_heartbeats_count_remove();
DROP FUNCTION job_heartbeats_count_add();
DROP TABLE job_heartbeats_count;
"""

SQLITE = [
    "CREATE TABLE job_heartbeats_count (shard integer PRIMARY KEY, jobs integer NOT NULL)",
    """CREATE TRIGGER job_heartbeats_count_insert AFTER INSERT ON job_heartbeats BEGIN
        INSERT INTO job_heartbeats_count (shard, jobs) VALUES (0, 1)
        ON CONFLICT (shard) DO UPDATE SET jobs = jobs + 1;
    END""",
    """CREATE TRIGGER job_heartbeats_count_delete AFTER DELETE ON job_heartbeats BEGIN
        INSERT INTO job_heartbeats_count (shard, jobs) VALUES (0, -1)
        ON CONFLICT (shard) DO UPDATE SET jobs = jobs - 1;
    END""",
    "INSERT INTO job_heartbeats_count (shard, jobs) SELECT 0, count(*) FROM job_heartbeats",
]

SQLITE_REVERSE = [
    "DROP TRIGGER job_heartbeats_count_delete",
    "DROP TRIGGER job_heartbeats_count_insert",
    "DROP TABLE job_heartbeats_count",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor[schema_editor.connection.vendor]
        for sql in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("heartbeats", "0003_delivery_idempotency_key"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
