-- A study's series, each with the content hash of its middle instance for the thumbnail.
WITH inst AS (
    SELECT series_instance_uid,
           list(content_hash ORDER BY instance_number NULLS LAST, sop_instance_uid) AS hashes,
           sum(coalesce(number_of_frames, 1)) AS frames
    FROM instances
    WHERE study_instance_uid = $study_instance_uid
    GROUP BY series_instance_uid
)
SELECT se.series_instance_uid, se.series_number, se.modality, se.series_description,
       se.body_part_examined, se.number_of_instances, se.bytes, inst.frames,
       inst.hashes[(len(inst.hashes) + 1) // 2] AS thumbnail_hash
FROM series se
JOIN inst USING (series_instance_uid)
WHERE se.study_instance_uid = $study_instance_uid
ORDER BY se.series_number NULLS LAST, se.series_instance_uid
