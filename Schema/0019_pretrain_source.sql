-- The projects whose kept faces `facet pretrain OUT.facet --from A.facet B.facet ...` copied into this one, the pool a
-- generic model trains on (every face, both decoders): each source named by the path given and the SHA-256 of its
-- bytes when read, with the faces copied from it and its media left out as already here (same content).
CREATE TABLE pretrain_source (
    id             INTEGER PRIMARY KEY,
    source_path    TEXT NOT NULL,
    source_sha256  TEXT NOT NULL,
    faces          INTEGER NOT NULL CHECK (faces >= 0),
    media_copied   INTEGER NOT NULL CHECK (media_copied >= 0),
    media_skipped  INTEGER NOT NULL CHECK (media_skipped >= 0),
    copied_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
