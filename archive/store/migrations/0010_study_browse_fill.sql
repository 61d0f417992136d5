-- The browse table of migration 0009: newest first in every data file (on insert and on
-- compaction), in small row groups, so a page of "newest first" (or of "oldest first", read from
-- the other end) and a date range read only the row groups whose dates can qualify; then filled.
ALTER TABLE study_browse SET SORTED BY (study_date DESC NULLS LAST, study_time DESC NULLS LAST, study_instance_uid);
CALL set_option('parquet_row_group_size', 16384, table_name => 'study_browse');

INSERT INTO study_browse SELECT * FROM study_browse_source;
