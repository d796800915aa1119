-- A request's photo: the file's random name in the uploads folder and its checked type.
ALTER TABLE requests ADD COLUMN image_file TEXT;
ALTER TABLE requests ADD COLUMN image_type TEXT
    CHECK (image_type IS NULL OR image_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif'));
