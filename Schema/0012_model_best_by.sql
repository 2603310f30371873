-- What the alias `best` follows, per model (`facet checkpoints --best-by`): 'val_loss' (the lowest held-out loss,
-- also when a model has no row here) or 'swap' (the highest combined swap score of the checkpoints scored, README
-- "Swap scores"; the lowest held-out loss among the rest when none is).
CREATE TABLE model_best_by (
    model_id  INTEGER PRIMARY KEY REFERENCES model(id) ON DELETE CASCADE,
    best_by   TEXT NOT NULL CHECK (best_by IN ('val_loss', 'swap'))
);
