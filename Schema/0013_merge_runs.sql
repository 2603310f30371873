-- Merge runs (`facet merge`, `facet merges`): each merge's settings, checkpoint, output and counts, and how
-- every frame it swapped scores, one row per frame and metric so new metrics need no new column. Metrics
-- (README "Merge runs and their scores"): identity_to_src, identity_to_dst, landmarks, eyes_mouth, detail,
-- jitter. A run without `finished_at` was stopped (killed, or failed) before its video was written.
CREATE TABLE merge_run (
    id             INTEGER PRIMARY KEY,
    media_id       INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    checkpoint_id  INTEGER REFERENCES checkpoint(id) ON DELETE SET NULL,
    output         TEXT NOT NULL,
    settings_json  TEXT NOT NULL,                -- the merge options, frame ranges and per-range settings
    first_frame    INTEGER NOT NULL CHECK (first_frame >= 0),
    last_frame     INTEGER NOT NULL CHECK (last_frame >= first_frame),
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    frames         INTEGER NOT NULL DEFAULT 0 CHECK (frames >= 0),
    frames_with_faces INTEGER NOT NULL DEFAULT 0 CHECK (frames_with_faces >= 0),
    faces_merged   INTEGER NOT NULL DEFAULT 0 CHECK (faces_merged >= 0),
    frames_scored  INTEGER NOT NULL DEFAULT 0 CHECK (frames_scored >= 0),
    seconds        REAL,
    notes          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX merge_run_media ON merge_run(media_id);

CREATE TABLE merge_frame_score (
    run_id       INTEGER NOT NULL REFERENCES merge_run(id) ON DELETE CASCADE,
    frame_index  INTEGER NOT NULL CHECK (frame_index >= 0),
    metric       TEXT NOT NULL CHECK (length(metric) > 0),
    value        REAL NOT NULL,
    PRIMARY KEY (run_id, frame_index, metric)
) WITHOUT ROWID;
