-- Sites administered with `limestone sites` (archive/sites): a site may have several MRN issuers,
-- and a study remembers the AE title it came from (the sender of `listen`, the node of `pull`),
-- so that studies already stored can be attributed to a site that gains that AE title later.
ALTER TABLE sites ADD COLUMN issuers VARCHAR[];
UPDATE sites SET issuers = [issuer_of_patient_id] WHERE issuer_of_patient_id IS NOT NULL;
ALTER TABLE studies ADD COLUMN source_ae_title VARCHAR;
