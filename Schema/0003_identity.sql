-- Identity: whose face each face is. A face-recognition descriptor per face (dlib's ResNet, 128-d,
-- same person when the L2 distance is under 0.6), the recogniser in the extraction provenance, and
-- persons: each role's faces clustered by descriptor, each face pointing at its person.

-- The descriptor, apart from the face row (like face_histogram) so list queries never read it:
-- 128 x float16 little-endian (256 bytes; float16's error on a distance is about 1e-4, far under
-- the 0.6 threshold). `facet embed` fills it for faces stored before this schema.
CREATE TABLE face_embedding (
    face_id    INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    embedding  BLOB NOT NULL CHECK (length(embedding) = 256)
);

-- Which recogniser produced the descriptors of an extraction run's faces (set by extraction, or
-- by `facet embed` when it fills an older run's faces).
ALTER TABLE extraction ADD COLUMN recognizer TEXT;
ALTER TABLE extraction ADD COLUMN recognizer_sha256 TEXT;

-- A person: one role's faces of one identity, found by `facet people`. Ids stay stable across
-- reruns (a rerun matches its clusters to the persons before), names are the user's.
CREATE TABLE person (
    id           INTEGER PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    name         TEXT CHECK (name IS NULL OR length(name) > 0),
    centre       BLOB NOT NULL CHECK (length(centre) = 512),   -- mean descriptor, 128 x float32
    face_count   INTEGER NOT NULL DEFAULT 0 CHECK (face_count >= 0),
    representative_face_id INTEGER REFERENCES face(id) ON DELETE SET NULL,   -- the face nearest the centre
    threshold    REAL NOT NULL,                                -- the distance the clustering used
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX person_role ON person(role);
CREATE UNIQUE INDEX person_name ON person(role, name) WHERE name IS NOT NULL;

-- Each face's person (NULL until `facet people` has run on its role).
ALTER TABLE face ADD COLUMN person_id INTEGER REFERENCES person(id) ON DELETE SET NULL;
CREATE INDEX face_person ON face(person_id, status);

-- The view for people gains the person (its name, else its number).
DROP VIEW faces;
CREATE VIEW faces AS
SELECT f.id, f.role, m.name AS media, f.frame_index, f.face_index, f.status,
       round(f.score, 3) AS score, round(f.blur, 2) AS blur, round(f.motion_blur, 2) AS motion_blur,
       round(f.yaw, 1) AS yaw, round(f.pitch, 1) AS pitch, round(f.roll, 1) AS roll,
       round(f.brightness, 1) AS brightness, round(f.hue, 1) AS hue, round(f.face_size, 1) AS face_size,
       f.face_type, f.crop_size,
       (SELECT group_concat(t.tag, ',') FROM face_tag t WHERE t.face_id = f.id) AS tags,
       f.person_id AS person,
       (SELECT p.name FROM person p WHERE p.id = f.person_id) AS person_name
FROM face f JOIN media m ON m.id = f.media_id;
