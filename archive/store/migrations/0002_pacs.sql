-- Studies and series known from a PACS node (C-FIND) before, or without, their images.
-- retrieve_status: NULL for what arrived whole (import, push); for pulled studies
-- 'not retrieved' (metadata only), 'partial' or 'complete' against the node's own count.
ALTER TABLE studies ADD COLUMN retrieve_status VARCHAR;
ALTER TABLE studies ADD COLUMN source_node VARCHAR;        -- the node the study was found on
ALTER TABLE studies ADD COLUMN remote_instances INTEGER;   -- NumberOfStudyRelatedInstances there
ALTER TABLE series ADD COLUMN retrieve_status VARCHAR;
ALTER TABLE series ADD COLUMN remote_instances INTEGER;    -- NumberOfSeriesRelatedInstances there
