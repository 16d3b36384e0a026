-- vigie store, version 1 (SQLite). Dates are AAAA-MM-JJ text, months AAAA-MM.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    grammar TEXT NOT NULL,
    received TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    agent TEXT NOT NULL,
    size INTEGER NOT NULL,
    units INTEGER NOT NULL,
    errors TEXT NOT NULL,
    content BLOB NOT NULL
);
-- The digests of the files received (PostgreSQL keeps them apart from the partitioned files).
CREATE TABLE digests (
    digest TEXT PRIMARY KEY,
    file_id INTEGER NOT NULL,
    month TEXT NOT NULL
);
-- A fact's id is its file's id × 2^32 + its rank in the file: a file's facts are one range of
-- the table's own key, found without an index of their own (which would slow ingest).
CREATE TABLE facts (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    month TEXT NOT NULL,
    received TEXT NOT NULL,
    line INTEGER NOT NULL,
    grp TEXT NOT NULL,
    subject TEXT NOT NULL,
    ps TEXT,
    day TEXT,
    fields TEXT NOT NULL
);
-- The outcomes decided by reconcile (awaited = 0), and the invoices awaiting a document
-- (awaited = 1), each from the day it appeared to the day it was resolved.
CREATE TABLE outcomes (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    received TEXT NOT NULL,
    identity TEXT NOT NULL,
    awaited INTEGER NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    ps TEXT,
    file TEXT,
    line INTEGER,
    col INTEGER,
    field TEXT,
    ruleset TEXT,
    message TEXT NOT NULL,
    text TEXT,
    details TEXT NOT NULL,
    day TEXT,
    body TEXT NOT NULL,
    appeared TEXT NOT NULL,
    resolved TEXT
);
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
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,
    at TEXT NOT NULL,
    agent TEXT NOT NULL,
    rulesets TEXT NOT NULL,
    appeared INTEGER NOT NULL,
    resolved INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    nom TEXT NOT NULL,
    prenom TEXT NOT NULL,
    role TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
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
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'la piste d''audit est en ajout seul'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'la piste d''audit est en ajout seul'); END;
