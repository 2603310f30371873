-- Hand-drawn mask labels (`facet mask`, the gallery's mask editor): per face, include and exclude polygons in the
-- face crop's pixel coordinates (0...crop_size on both axes, the crop's top-left corner at (0, 0)), drawn in
-- `ord` order: an include polygon fills, an exclude polygon cuts out of what earlier polygons filled. `points` holds
-- n >= 3 (x, y) pairs as float32 little endian. A face with at least one polygon is "labelled".
CREATE TABLE mask_polygon (
    face_id  INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL CHECK (ord >= 0),
    kind     TEXT NOT NULL CHECK (kind IN ('include', 'exclude')),
    points   BLOB NOT NULL CHECK (length(points) >= 24 AND length(points) % 8 = 0),
    PRIMARY KEY (face_id, ord)
) WITHOUT ROWID;

-- When each face's labels last changed (set, cleared, undone or redone): `revision` rises across the project with
-- every change, so a face's stored revision differs from the one a predicted mask was made at exactly when its
-- labels changed since. A face whose labels were cleared keeps its row (with no polygons left).
CREATE TABLE mask_label (
    face_id     INTEGER PRIMARY KEY REFERENCES face(id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL CHECK (revision > 0),
    changed_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX mask_label_revision ON mask_label(revision);

-- The undo record of a labels change (curation_change_face holds status and tag changes): each face's polygons
-- before and after, as the JSON of `facet mask --export-labels` ('[]' for none).
CREATE TABLE curation_change_mask (
    change_id     INTEGER NOT NULL REFERENCES curation_change(id) ON DELETE CASCADE,
    face_id       INTEGER NOT NULL REFERENCES face(id) ON DELETE CASCADE,
    old_polygons  TEXT NOT NULL,
    new_polygons  TEXT NOT NULL,
    PRIMARY KEY (change_id, face_id)
) WITHOUT ROWID;
