-- What the training guard did (`facet train`): a non-finite loss or gradient skipped and the last good weights
-- restored in memory (`non_finite`), a loss spike rolled back to the last checkpoint with a lower learning rate
-- (`spike`), or the run stopped after repeated events (`stopped`). `lr_scale` is the factor on the model's learning
-- rate from this event on (a resumed run starts from its model's latest one); `checkpoint_id` the checkpoint a
-- spike rolled back to.
CREATE TABLE training_event (
    id             INTEGER PRIMARY KEY,
    model_id       INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
    iteration      INTEGER NOT NULL CHECK (iteration >= 0),
    kind           TEXT NOT NULL CHECK (kind IN ('non_finite', 'spike', 'stopped')),
    detail         TEXT NOT NULL,
    loss           REAL,
    median_loss    REAL,
    lr_scale       REAL NOT NULL CHECK (lr_scale > 0),
    checkpoint_id  INTEGER REFERENCES checkpoint(id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX training_event_model ON training_event(model_id, id);

-- Where a model's weights started when it was warm-started from another project's checkpoint
-- (`facet train --init-from OTHER.facet:CKPT`): every checkpoint of the model descends from it. The source file is
-- named by path and by the SHA-256 of its bytes when read; `frozen` lists the parts kept fixed ('' for none).
CREATE TABLE model_init (
    model_id              INTEGER PRIMARY KEY REFERENCES model(id) ON DELETE CASCADE,
    source_path           TEXT NOT NULL,
    source_sha256         TEXT NOT NULL,
    source_model          TEXT NOT NULL,
    source_checkpoint_id  INTEGER NOT NULL,
    source_iteration      INTEGER NOT NULL,
    frozen                TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
