-- vigie store, version 1 (PostgreSQL). Dates are AAAA-MM-JJ text, months AAAA-MM. The tables
-- that grow with the flow are partitioned by month (partitions are created as months come, and
-- the purge drops the ones wholly past the retention period).
CREATE SEQUENCE files_id;
CREATE TABLE files (
    id BIGINT NOT NULL DEFAULT nextval('files_id'),
    month TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    grammar TEXT NOT NULL,
    received TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    agent TEXT NOT NULL,
    size BIGINT NOT NULL,
    units BIGINT NOT NULL,
    errors TEXT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (month, id)
) PARTITION BY LIST (month);
-- A partitioned table's unique keys must hold its partition key: the digests live here.
CREATE TABLE digests (
    digest TEXT PRIMARY KEY,
    file_id BIGINT NOT NULL,
    month TEXT NOT NULL
);
-- A fact's id is its file's id × 2^32 + its rank in the file (SQLite finds a file's facts by
-- this range of its key; PostgreSQL by the index below).
CREATE TABLE facts (
    id BIGINT NOT NULL,
    file_id BIGINT NOT NULL,
    month TEXT NOT NULL,
    received TEXT NOT NULL,
    line BIGINT NOT NULL,
    grp TEXT NOT NULL,
    subject TEXT NOT NULL,
    ps TEXT,
    day TEXT,
    fields TEXT NOT NULL
) PARTITION BY LIST (month);
CREATE INDEX facts_file ON facts (file_id, line);
CREATE SEQUENCE outcomes_id;
-- The outcomes decided by reconcile (awaited = 0), and the invoices awaiting a document
-- (awaited = 1), each from the day it appeared to the day it was resolved.
CREATE TABLE outcomes (
    id BIGINT NOT NULL DEFAULT nextval('outcomes_id'),
    month TEXT NOT NULL,
    received TEXT NOT NULL,
    identity TEXT NOT NULL,
    awaited BIGINT NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    ps TEXT,
    file TEXT,
    line BIGINT,
    col BIGINT,
    field TEXT,
    ruleset TEXT,
    message TEXT NOT NULL,
    text TEXT,
    details TEXT NOT NULL,
    day TEXT,
    body TEXT NOT NULL,
    appeared TEXT NOT NULL,
    resolved TEXT,
    PRIMARY KEY (month, id)
) PARTITION BY LIST (month);
CREATE INDEX outcomes_open ON outcomes (resolved, awaited);
CREATE INDEX outcomes_ps ON outcomes (ps);
CREATE TABLE sent (
    key TEXT PRIMARY KEY,
    month TEXT NOT NULL,
    code TEXT NOT NULL,
    subject TEXT NOT NULL,
    ps TEXT,
    recipient_kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    day TEXT NOT NULL,
    agent TEXT NOT NULL,
    file TEXT NOT NULL
);
CREATE TABLE reconciles (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of TEXT NOT NULL,
    at TEXT NOT NULL,
    agent TEXT NOT NULL,
    rulesets TEXT NOT NULL,
    appeared BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    changed BIGINT NOT NULL
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    nom TEXT NOT NULL,
    prenom TEXT NOT NULL,
    role TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    subjects TEXT NOT NULL,
    details TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- The last entry of the trail, so that deleting the last entries is seen too.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
-- vigie's own commands only append to the audit trail; the database refuses the rest.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'la piste d''audit est en ajout seul'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
