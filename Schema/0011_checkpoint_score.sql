-- How a checkpoint swaps, not how it reconstructs (`facet score`): one row per checkpoint and metric, so new
-- metrics need no new column. Metrics (README "Swap scores"): identity_src_share, identity_to_src,
-- identity_to_dst, landmarks, eyes_mouth, mouth_correlation, detail, missed; `faces` is how many held-out dst
-- faces were swapped for it.
CREATE TABLE checkpoint_score (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoint(id) ON DELETE CASCADE,
    metric         TEXT NOT NULL CHECK (length(metric) > 0),
    value          REAL NOT NULL,
    faces          INTEGER NOT NULL CHECK (faces >= 0),
    scored_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (checkpoint_id, metric)
) WITHOUT ROWID;
