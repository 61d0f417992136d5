-- Studies, series and instances in study UID order, patients in key order, in every data file
-- (on insert and on compaction), so that opening one study (the study page, the viewer, a
-- patient's banner) reads the one row group of each file whose min/max range holds its UID
-- instead of comparing every UID. The rows already stored are rewritten once in that order: a
-- copy is inserted (sorted) and the old rows, the ones up to the last row id before the copy,
-- are deleted.
ALTER TABLE studies SET SORTED BY (study_instance_uid);
ALTER TABLE series SET SORTED BY (study_instance_uid, series_instance_uid);
ALTER TABLE instances SET SORTED BY (study_instance_uid, series_instance_uid);
ALTER TABLE patients SET SORTED BY (patient_key);

CREATE TEMP TABLE lookup_order_last AS
SELECT 'studies' AS tbl, max(rowid) AS last_row FROM studies
UNION ALL SELECT 'series', max(rowid) FROM series
UNION ALL SELECT 'instances', max(rowid) FROM instances
UNION ALL SELECT 'patients', max(rowid) FROM patients;

INSERT INTO studies SELECT * FROM studies;
DELETE FROM studies WHERE rowid <= (SELECT last_row FROM lookup_order_last WHERE tbl = 'studies');
INSERT INTO series SELECT * FROM series;
DELETE FROM series WHERE rowid <= (SELECT last_row FROM lookup_order_last WHERE tbl = 'series');
INSERT INTO instances SELECT * FROM instances;
DELETE FROM instances WHERE rowid <= (SELECT last_row FROM lookup_order_last WHERE tbl = 'instances');
INSERT INTO patients SELECT * FROM patients;
DELETE FROM patients WHERE rowid <= (SELECT last_row FROM lookup_order_last WHERE tbl = 'patients');

DROP TABLE lookup_order_last;
