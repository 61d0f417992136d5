-- How the patient records are linked: records and persons per method, and conflicts to review.
-- Links are rebuilt from all patient records, so records without a link arrived since.
WITH links AS (
    -- A person's key is the smallest key of its records: one record per person carries it.
    SELECT count(*) AS linked, count(*) FILTER (WHERE patient_key = person_key) AS persons,
           count(*) FILTER (WHERE method = 'shared_id') AS by_shared_id,
           count(*) FILTER (WHERE method = 'demographics') AS by_demographics,
           count(*) FILTER (WHERE method = 'manual') AS by_decision,
           max(linked_at) AS linked_at
    FROM patient_links
), records AS (
    SELECT count(*) AS records FROM patients
)
SELECT r.records, l.persons + greatest(r.records - l.linked, 0) AS persons, l.by_shared_id,
       l.by_demographics, l.by_decision, greatest(r.records - l.linked, 0) AS not_yet_linked,
       (SELECT count(*) FROM patient_link_conflicts) AS conflicts, l.linked_at
FROM links l, records r
