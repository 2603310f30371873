-- The segmenter's predicted masks (`facet xseg apply`): one per face, an 8-bit grey PNG at the xseg network's
-- resolution (255 = face not covered by anything; merge and masked training scale it to their size), with the
-- xseg checkpoint that made it and the revision of the face's mask labels it saw ('' when the face had none): a
-- face whose labels changed since, or whose mask came from another checkpoint, is predicted again on the next apply.
CREATE TABLE face_xseg_mask (
    face_id         INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    checkpoint_id   INTEGER REFERENCES checkpoint(id) ON DELETE SET NULL,
    label_revision  TEXT NOT NULL DEFAULT '',
    size            INTEGER NOT NULL CHECK (size > 0),
    data            BLOB NOT NULL,
    predicted_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX face_xseg_mask_checkpoint ON face_xseg_mask(checkpoint_id);
