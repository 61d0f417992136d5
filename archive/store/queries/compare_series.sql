-- A study's series with what series pairing and synchronisation need: orientation (the most
-- common one), slice thickness, pixel spacing, matrix and frame of reference.
WITH inst AS (
    SELECT series_instance_uid,
           count(*) AS images,
           sum(coalesce(number_of_frames, 1)) AS frames,
           median(slice_thickness) AS slice_thickness,
           mode(image_orientation_patient) AS image_orientation_patient,
           count(DISTINCT image_orientation_patient) AS orientations,
           count(image_position_patient) AS with_position,
           mode(pixel_spacing) AS pixel_spacing,
           mode(rows) AS rows, mode(columns) AS columns
    FROM instances
    WHERE study_instance_uid = $study_instance_uid
    GROUP BY series_instance_uid
)
SELECT se.series_instance_uid, se.series_number, se.modality, se.series_description,
       se.body_part_examined, se.frame_of_reference_uid, inst.*  EXCLUDE (series_instance_uid)
FROM series se
JOIN inst USING (series_instance_uid)
WHERE se.study_instance_uid = $study_instance_uid
ORDER BY se.series_number NULLS LAST, se.series_instance_uid
