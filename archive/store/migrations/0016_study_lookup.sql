-- Issue 15 item 5: point lookups of the browser and the study page without a full scan. The
-- browse table (0009) is in date order, so a search by patient ID or accession number, and a
-- patient's timeline (studies by patient key or by name + birth date + sex), compared every
-- study: ~90-120 ms at 1,000,000 studies. study_lookup holds each study's browse row once per key
-- it can be found by, keyed 'i:' patient ID, 'a:' accession number, 'k:' patient key, 'd:' the
-- person's demographics (person_lookup_key), and is kept in key order in small row groups
-- (migration 0017), so a lookup reads the one row group whose key range holds its key.
-- study_lookup_rows(study_uids) defines the rows (NULL: every study); every writer of studies or
-- patients rewrites them in its own transaction (archive/store/browse_table.py), as for the
-- browse table.
CREATE MACRO person_lookup_key(patient_name, patient_birth_date, patient_sex) AS
    CASE WHEN patient_name IS NOT NULL AND patient_birth_date IS NOT NULL
         THEN 'd:' || patient_name || chr(31) || CAST(patient_birth_date AS VARCHAR) || chr(31)
              || coalesce(patient_sex, '') END;

CREATE MACRO study_lookup_rows(study_uids) AS TABLE
WITH b AS (SELECT * FROM study_browse_rows(study_uids))
SELECT 'i:' || patient_id AS lookup_key, * FROM b WHERE patient_id IS NOT NULL
UNION ALL
SELECT 'a:' || accession_number, * FROM b WHERE accession_number IS NOT NULL
UNION ALL
SELECT 'k:' || patient_key, * FROM b WHERE patient_key IS NOT NULL
UNION ALL
SELECT person_lookup_key(patient_name, patient_birth_date, patient_sex), * FROM b
WHERE patient_name IS NOT NULL AND patient_birth_date IS NOT NULL;

CREATE VIEW study_lookup_source AS SELECT * FROM study_lookup_rows(NULL);

CREATE TABLE study_lookup AS SELECT * FROM study_lookup_source LIMIT 0;
