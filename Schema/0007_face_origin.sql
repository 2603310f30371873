-- What a face brought from another tool's file (DeepFaceLab's APP15 block, faceswap's PNG chunk or alignments
-- file): where it was cut from, and the hand-made masks, kept for the masks work and for `facet export --format dfl`.
CREATE TABLE face_origin (
    face_id           INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    tool              TEXT NOT NULL CHECK (tool IN ('dfl', 'faceswap')),
    file_name         TEXT NOT NULL,   -- the imported file's name
    source_filename   TEXT,            -- the frame the face was cut from
    source_rect       BLOB CHECK (source_rect IS NULL OR length(source_rect) = 32),          -- left, top, right, bottom float64
    source_landmarks  BLOB CHECK (source_landmarks IS NULL OR length(source_landmarks) = 1088), -- 68 x (x, y) float64, frame pixels
    source_matrix     BLOB CHECK (source_matrix IS NULL OR length(source_matrix) = 48),     -- 2x3 float64 row-major, frame -> face image
    landmarks         BLOB CHECK (landmarks IS NULL OR length(landmarks) = 1088),           -- 68 x (x, y) float64 as the file had them
    seg_ie_polys      TEXT,            -- JSON [{"type": 1 include | 0 exclude, "pts": [[x, y], ...]}], face image pixels
    xseg_mask         BLOB,            -- the mask image as the file stored it (PNG or JPEG bytes)
    extra             TEXT             -- JSON of the other fields, for what a later version understands
);
