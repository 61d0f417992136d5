-- The instances of one series in the viewer's order, with their geometry for synchronisation.
SELECT sop_instance_uid, sop_class_uid, instance_number, content_hash, rows, columns,
       coalesce(number_of_frames, 1) AS number_of_frames, photometric_interpretation,
       transfer_syntax_uid, window_center, window_width, slice_location, slice_thickness,
       pixel_spacing, bits_stored, image_position_patient, image_orientation_patient
FROM instances
WHERE study_instance_uid = $study_instance_uid AND series_instance_uid = $series_instance_uid
ORDER BY instance_number NULLS LAST, slice_location NULLS LAST, sop_instance_uid
