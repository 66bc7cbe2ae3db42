-- The sweeper's store. Times are unix milliseconds (UTC) unless named *_s.

-- One row per enrolled host. Only the hash of its node key is kept.
CREATE TABLE hosts (
    host_id         TEXT PRIMARY KEY,
    node_key_hash   TEXT NOT NULL,
    hostname        TEXT NOT NULL DEFAULT '',
    os              TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    osquery_version TEXT NOT NULL DEFAULT '',
    remote_addr     TEXT NOT NULL DEFAULT '',
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    online          INTEGER NOT NULL DEFAULT 0
);

-- One row per rule evaluated on one host over one window.
CREATE TABLE rule_runs (
    id          INTEGER PRIMARY KEY,
    host_id     TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    window_from INTEGER NOT NULL,
    window_to   INTEGER NOT NULL,
    started     INTEGER NOT NULL,
    finished    INTEGER NOT NULL,
    rows        INTEGER NOT NULL DEFAULT 0,
    matches     INTEGER NOT NULL DEFAULT 0,
    dropped     INTEGER NOT NULL DEFAULT 0, -- matches beyond max_signals
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    query_ms    INTEGER NOT NULL DEFAULT 0,
    eval_ms     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rule_runs_host_rule ON rule_runs (host_id, rule_id, started);

-- How far each rule has been swept on each host: the next window starts here.
CREATE TABLE watermarks (
    host_id  TEXT NOT NULL,
    rule_id  TEXT NOT NULL,
    swept_to INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    PRIMARY KEY (host_id, rule_id)
) WITHOUT ROWID;

-- Alerts are written create-only under their deterministic id.
CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    host_id    TEXT NOT NULL,
    rule_id    TEXT NOT NULL,
    time       INTEGER NOT NULL, -- the original event's time
    severity   TEXT NOT NULL,
    risk_score INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL,
    doc        TEXT NOT NULL     -- the ECS document, JSON
);
CREATE INDEX alerts_host_time ON alerts (host_id, time);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time);
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_severity_time ON alerts (severity, time);

-- Ad hoc queries to the fleet and what each host answered.
CREATE TABLE hunts (
    id       TEXT PRIMARY KEY,
    sql      TEXT NOT NULL,
    created  INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    targeted INTEGER NOT NULL DEFAULT 0,
    status   TEXT NOT NULL DEFAULT 'running'
);

CREATE TABLE hunt_hosts (
    hunt_id  TEXT NOT NULL,
    host_id  TEXT NOT NULL,
    status   TEXT NOT NULL,
    error    TEXT NOT NULL DEFAULT '',
    rows     INTEGER NOT NULL DEFAULT 0,
    wall_ms  INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL,
    PRIMARY KEY (hunt_id, host_id)
) WITHOUT ROWID;

CREATE TABLE hunt_rows (
    hunt_id TEXT NOT NULL,
    host_id TEXT NOT NULL,
    row     TEXT NOT NULL -- JSON object of column → value
);
CREATE INDEX hunt_rows_hunt_host ON hunt_rows (hunt_id, host_id);
