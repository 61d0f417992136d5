-- How the patient records are linked: records and persons per method, and conflicts to review.
SELECT count(*) AS records, count(DISTINCT person_key) AS persons,
       count(*) FILTER (WHERE method = 'shared_id') AS by_shared_id,
       count(*) FILTER (WHERE method = 'demographics') AS by_demographics,
       count(*) FILTER (WHERE method = 'manual') AS by_decision,
       count(*) FILTER (WHERE method = 'unlinked') AS not_yet_linked,
       (SELECT count(*) FROM patient_link_conflicts) AS conflicts,
       (SELECT max(linked_at) FROM patient_links) AS linked_at
FROM patient_identity
