-- Sort indexes that also cover the status filter: the gallery and `facet sort` ask for one role's
-- kept (or rejected) faces in the order of one signature. With (role, status, column) that is a
-- walk of one index that never reads the face rows (rowid, the id, is in every index), about ten
-- times faster at 100,000 faces than filtering the (role, column) walk by status row by row.
-- The (role, column) indexes stay for queries over every status.
CREATE INDEX face_status_blur ON face(role, status, blur);
CREATE INDEX face_status_motion_blur ON face(role, status, motion_blur);
CREATE INDEX face_status_yaw ON face(role, status, yaw);
CREATE INDEX face_status_pitch ON face(role, status, pitch);
CREATE INDEX face_status_roll ON face(role, status, roll);
CREATE INDEX face_status_size ON face(role, status, face_size);
CREATE INDEX face_status_brightness ON face(role, status, brightness);
CREATE INDEX face_status_hue ON face(role, status, hue);
CREATE INDEX face_status_score ON face(role, status, score);
