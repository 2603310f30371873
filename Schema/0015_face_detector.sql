-- Which detector found each face: 'mtcnn' or 'cnn' (dlib's CNN face detector, which `facet extract
-- --detector cnn|both|fallback` runs).
-- NULL: a face not found by a detector of this version (extracted before it, imported from another
-- tool's file or as a crop); the extraction run's `detector` says more.
ALTER TABLE face ADD COLUMN detector TEXT;
