-- How far each face's 68 landmarks can be trusted, 0...1 (FacetVision's LandmarkFit.score): the fit's
-- agreement with the detector's five points and with the fit of the mirrored face. Low scores are
-- faces to review first (`facet faces --sort landmark_score`); detections below the extraction's
-- threshold (hands, patterns) are not stored at all, and `facet extract` says how many it dropped.
-- NULL: extracted before this version, never scored.
ALTER TABLE face ADD COLUMN landmark_score REAL;
CREATE INDEX face_landmark_score ON face(role, landmark_score);
CREATE INDEX face_status_landmark_score ON face(role, status, landmark_score);
