-- Facet project file, schema version 1: the whole model of DESIGN.md.
-- Append-only: a shipped migration is never edited; changes go in a new numbered file.
-- Coordinates are pixels; times are ISO-8601 UTC text; blobs are little-endian.

-- Key/value facts about the project (created_at, created_by).
CREATE TABLE project_info (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- An imported video (or a folder of stills) for one role.
CREATE TABLE media (
    id           INTEGER PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    name         TEXT NOT NULL,                 -- file or folder name as imported
    kind         TEXT NOT NULL CHECK (kind IN ('video', 'stills')),
    storage      TEXT NOT NULL CHECK (storage IN ('embedded', 'linked')),
    path         TEXT,                          -- absolute path at import (the source for 'linked')
    sha256       TEXT NOT NULL UNIQUE,          -- content hash: the same content is imported once
    byte_size    INTEGER NOT NULL CHECK (byte_size >= 0),
    container    TEXT NOT NULL,
    codec        TEXT NOT NULL,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    fps          REAL NOT NULL CHECK (fps >= 0),
    frame_count  INTEGER NOT NULL CHECK (frame_count >= 0),
    duration     REAL NOT NULL CHECK (duration >= 0),
    has_audio    INTEGER NOT NULL DEFAULT 0 CHECK (has_audio IN (0, 1)),
    imported_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX media_role ON media(role);

-- The bytes of an embedded video, in chunks of a few MiB (no row near SQLite's 1 GB limit).
-- For stills, one chunk per image file, in frame order, named.
CREATE TABLE media_chunk (
    media_id  INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    offset    INTEGER NOT NULL CHECK (offset >= 0), -- byte offset of this chunk in the file
    name      TEXT,                                 -- stills: the image's file name
    data      BLOB NOT NULL,
    PRIMARY KEY (media_id, seq)
) WITHOUT ROWID;

-- One extraction run: which detector / landmark model and options produced its faces.
CREATE TABLE extraction (
    id                 INTEGER PRIMARY KEY,
    role               TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    detector           TEXT NOT NULL,
    detector_sha256    TEXT NOT NULL,
    landmarker         TEXT NOT NULL,
    landmarker_sha256  TEXT NOT NULL,
    options_json       TEXT NOT NULL,               -- fps, face type, size, min face, ...
    started_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at        TEXT
);

-- Every processed frame, with or without faces (so a rerun knows where to carry on).
CREATE TABLE frame (
    id             INTEGER PRIMARY KEY,
    media_id       INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    frame_index    INTEGER NOT NULL CHECK (frame_index >= 0),
    pts            REAL NOT NULL,                   -- seconds
    extraction_id  INTEGER NOT NULL REFERENCES extraction(id),
    face_count     INTEGER NOT NULL DEFAULT 0,
    error          TEXT,                            -- decode problem with this frame, if any
    UNIQUE (media_id, frame_index)
);

-- One row per face found. Signatures are computed once at extraction, so sorting is a query.
CREATE TABLE face (
    id             INTEGER PRIMARY KEY,
    frame_id       INTEGER NOT NULL REFERENCES frame(id) ON DELETE CASCADE,
    media_id       INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    frame_index    INTEGER NOT NULL,
    face_index     INTEGER NOT NULL CHECK (face_index >= 0),
    pts            REAL NOT NULL,
    extraction_id  INTEGER NOT NULL REFERENCES extraction(id),
    score          REAL NOT NULL,                   -- detector confidence
    box_x          REAL NOT NULL,
    box_y          REAL NOT NULL,
    box_w          REAL NOT NULL,
    box_h          REAL NOT NULL,
    points5        BLOB,                            -- 5 x (x, y) float32, frame coordinates
    landmarks      BLOB NOT NULL CHECK (length(landmarks) = 544),  -- 68 x (x, y) float32, frame coordinates
    matrix         BLOB NOT NULL CHECK (length(matrix) = 48),      -- 2x3 float64 row-major, image -> face
    face_type      TEXT NOT NULL CHECK (face_type IN ('half', 'mid_full', 'full', 'whole_face', 'head')),
    crop_size      INTEGER NOT NULL CHECK (crop_size > 0),
    blur           REAL NOT NULL,                   -- sharpness inside the face hull: higher is sharper
    motion_blur    REAL NOT NULL,                   -- variance of the Laplacian
    yaw            REAL NOT NULL,                   -- degrees
    pitch          REAL NOT NULL,
    roll           REAL NOT NULL,
    brightness     REAL NOT NULL,                   -- mean luma inside the hull, 0..255
    hue            REAL NOT NULL,                   -- degrees, circular mean inside the hull
    face_size      REAL NOT NULL,                   -- face extent in frame pixels
    status         TEXT NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'rejected')),
    UNIQUE (frame_id, face_index)
);
CREATE INDEX face_role_status ON face(role, status);
CREATE INDEX face_blur ON face(role, blur);
CREATE INDEX face_motion_blur ON face(role, motion_blur);
CREATE INDEX face_yaw ON face(role, yaw);
CREATE INDEX face_pitch ON face(role, pitch);
CREATE INDEX face_size ON face(role, face_size);
CREATE INDEX face_brightness ON face(role, brightness);
CREATE INDEX face_hue ON face(role, hue);
CREATE INDEX face_media_frame ON face(media_id, frame_index);

-- The aligned crop, apart from the face row so that sorts never read image bytes.
CREATE TABLE face_crop (
    face_id  INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    format   TEXT NOT NULL CHECK (format IN ('jpeg', 'png')),
    data     BLOB NOT NULL
);

-- The histogram signature: 3 x 256 float32 (R, G, B), each channel summing to 1.
CREATE TABLE face_histogram (
    face_id    INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    histogram  BLOB NOT NULL CHECK (length(histogram) = 3072)
);

CREATE TABLE face_tag (
    face_id  INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    tag      TEXT NOT NULL CHECK (length(tag) > 0),
    PRIMARY KEY (face_id, tag)
) WITHOUT ROWID;
CREATE INDEX face_tag_tag ON face_tag(tag);

-- Curation history: every status or tag change, grouped, so any change can be undone.
CREATE TABLE curation_change (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL,                      -- what the user ran
    made_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    undone_at   TEXT
);
CREATE TABLE curation_change_face (
    change_id   INTEGER NOT NULL REFERENCES curation_change(id) ON DELETE CASCADE,
    face_id     INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    field       TEXT NOT NULL CHECK (field IN ('status', 'tag+', 'tag-')),
    old_value   TEXT,
    new_value   TEXT,
    PRIMARY KEY (change_id, face_id, field, new_value)
);

-- A named order of faces saved from a sort (sorting never renames or moves anything).
CREATE TABLE face_ordering (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT CHECK (role IN ('src', 'dst')),
    sort_spec   TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE face_ordering_entry (
    ordering_id  INTEGER NOT NULL REFERENCES face_ordering(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    face_id      INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    PRIMARY KEY (ordering_id, position)
) WITHOUT ROWID;

-- A model: architecture, resolution and options (JSON) fixed at creation.
CREATE TABLE model (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    architecture  TEXT NOT NULL,                    -- quick96, tiny, h128, ...
    resolution    INTEGER NOT NULL CHECK (resolution > 0),
    face_type     TEXT NOT NULL,
    options_json  TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Which faces a model trains on and which it holds out for validation.
CREATE TABLE model_face (
    model_id  INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
    face_id   INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    split     TEXT NOT NULL CHECK (split IN ('train', 'validation')),
    PRIMARY KEY (model_id, face_id)
) WITHOUT ROWID;

-- One row per save. A save is one transaction: tensors, losses and previews with it.
CREATE TABLE checkpoint (
    id               INTEGER PRIMARY KEY,
    model_id         INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
    iteration        INTEGER NOT NULL CHECK (iteration >= 0),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    loss_src         REAL,                          -- smoothed over the last iterations
    loss_dst         REAL,
    val_loss_src     REAL,                          -- on the held-out faces
    val_loss_dst     REAL,
    val_loss         REAL,                          -- mean of the two
    train_seconds    REAL NOT NULL DEFAULT 0,       -- cumulative training time
    rng_state        BLOB,                          -- the training random state, to resume exactly
    tensors_pruned   INTEGER NOT NULL DEFAULT 0 CHECK (tensors_pruned IN (0, 1)),
    UNIQUE (model_id, iteration)
);
CREATE INDEX checkpoint_val_loss ON checkpoint(model_id, val_loss);

-- Weights and optimizer state of a checkpoint, one named tensor per row.
CREATE TABLE checkpoint_tensor (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoint(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,                   -- e.g. encoder.down1.weight, opt.encoder.down1.weight.v
    kind           TEXT NOT NULL CHECK (kind IN ('weight', 'optimizer')),
    dtype          TEXT NOT NULL DEFAULT 'f32',
    shape          TEXT NOT NULL,                   -- JSON array
    data           BLOB NOT NULL,
    PRIMARY KEY (checkpoint_id, name)
) WITHOUT ROWID;

CREATE TABLE checkpoint_tag (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoint(id) ON DELETE CASCADE,
    tag            TEXT NOT NULL CHECK (length(tag) > 0),
    PRIMARY KEY (checkpoint_id, tag)
) WITHOUT ROWID;

-- The loss of every training iteration.
CREATE TABLE loss (
    model_id   INTEGER NOT NULL REFERENCES model(id) ON DELETE CASCADE,
    iteration  INTEGER NOT NULL,
    loss_src   REAL NOT NULL,
    loss_dst   REAL NOT NULL,
    seconds    REAL NOT NULL,                       -- training time at this iteration
    PRIMARY KEY (model_id, iteration)
) WITHOUT ROWID;

-- Preview images of a checkpoint (the grid users know), PNG.
CREATE TABLE preview (
    id             INTEGER PRIMARY KEY,
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoint(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL DEFAULT 'grid',
    format         TEXT NOT NULL DEFAULT 'png',
    data           BLOB NOT NULL,
    UNIQUE (checkpoint_id, kind)
);

-- Named merge settings, so a result can be reproduced.
CREATE TABLE merge_config (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    checkpoint_id  INTEGER REFERENCES checkpoint(id) ON DELETE SET NULL,
    options_json   TEXT NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Views with readable columns, for people who open the file with sqlite3.
CREATE VIEW faces AS
SELECT f.id, f.role, m.name AS media, f.frame_index, f.face_index, f.status,
       round(f.score, 3) AS score, round(f.blur, 2) AS blur, round(f.motion_blur, 2) AS motion_blur,
       round(f.yaw, 1) AS yaw, round(f.pitch, 1) AS pitch, round(f.roll, 1) AS roll,
       round(f.brightness, 1) AS brightness, round(f.hue, 1) AS hue, round(f.face_size, 1) AS face_size,
       f.face_type, f.crop_size,
       (SELECT group_concat(t.tag, ',') FROM face_tag t WHERE t.face_id = f.id) AS tags
FROM face f JOIN media m ON m.id = f.media_id;

CREATE VIEW media_summary AS
SELECT m.id, m.role, m.name, m.kind, m.storage, m.codec, m.width || 'x' || m.height AS size,
       round(m.fps, 3) AS fps, m.frame_count, round(m.duration, 2) AS duration, m.has_audio,
       (SELECT count(*) FROM frame fr WHERE fr.media_id = m.id) AS frames_extracted,
       (SELECT count(*) FROM face f WHERE f.media_id = m.id) AS faces,
       (SELECT coalesce(sum(length(c.data)), 0) FROM media_chunk c WHERE c.media_id = m.id) AS stored_bytes
FROM media m;

CREATE VIEW checkpoints AS
SELECT c.id, md.name AS model, md.architecture, c.iteration, c.created_at,
       round(c.loss_src, 5) AS loss_src, round(c.loss_dst, 5) AS loss_dst, round(c.val_loss, 5) AS val_loss,
       round(c.train_seconds, 1) AS train_seconds, c.tensors_pruned,
       (SELECT group_concat(t.tag, ',') FROM checkpoint_tag t WHERE t.checkpoint_id = c.id) AS tags,
       (SELECT coalesce(sum(length(ct.data)), 0) FROM checkpoint_tensor ct WHERE ct.checkpoint_id = c.id) AS bytes
FROM checkpoint c JOIN model md ON md.id = c.model_id;
