-- Face tracks (schema 4): each role's faces linked across consecutive processed frames of one media,
-- broken at scene cuts (a jump of the face histograms) and where a face leaves. Per face: its track,
-- whether it was filled into a gap of its track, and its landmarks and matrix smoothed over the track
-- (the raw ones in `face` stay as extracted; merge uses the smoothed ones by default).

CREATE TABLE track (
    id               INTEGER PRIMARY KEY,
    media_id         INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    first_frame      INTEGER NOT NULL CHECK (first_frame >= 0),
    last_frame       INTEGER NOT NULL CHECK (last_frame >= first_frame),
    faces            INTEGER NOT NULL CHECK (faces > 0),
    filled           INTEGER NOT NULL DEFAULT 0,       -- faces filled into gaps (redetected or interpolated)
    gaps             INTEGER NOT NULL DEFAULT 0,       -- processed frames inside the track still without its face
    ends_at_cut      INTEGER NOT NULL DEFAULT 0 CHECK (ends_at_cut IN (0, 1)),
    jitter_raw       REAL,                             -- mean |2nd difference| of the 68 points, in eye distances
    jitter_smoothed  REAL,
    smoothing        REAL NOT NULL                     -- strength of the stored smoothed alignment
);
CREATE INDEX track_media ON track(media_id, first_frame);
CREATE INDEX track_role ON track(role);

ALTER TABLE face ADD COLUMN track_id INTEGER REFERENCES track(id) ON DELETE SET NULL;
ALTER TABLE face ADD COLUMN filled TEXT CHECK (filled IN ('redetected', 'interpolated'));
CREATE INDEX face_track ON face(track_id, frame_index);

-- The face's landmarks (68 x float32, frame coordinates) and image-to-face matrix (2x3 float64),
-- smoothed over its track with no lag (a two-sided smoother, never across a cut).
CREATE TABLE face_smoothed (
    face_id    INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    landmarks  BLOB NOT NULL CHECK (length(landmarks) = 544),
    matrix     BLOB NOT NULL CHECK (length(matrix) = 48)
);
