"""Repeat-exam avoidance: the definitions behind the repeat metrics, and how to change them.

The numbers come from views in the analytic store (migration ``0004_repeats.sql``), so the
dashboard page, ``limestone report repeats`` and the notebooks agree:

- ``patient_identity``: each patient record (PatientID + issuer) with its regional person
  (``archive.patients.linking``). Every metric counts people by this person key.
- ``repeat_studies``: each dated imaging study with its exam class (``exam_class_rules`` matched on
  modality family, body part and description; CR and DX are the family XR), the class's repeat
  window (its own or the family default) and fee, and when it was available in the regional archive.
- ``repeat_exams`` — a **repeat** is a study of the same person and class done within the window
  (calendar days; the boundary day and the same day count) after an earlier one. It is
  **avoidable** when an earlier study within the window was done at another site, was in the
  regional archive before the repeat was made, and the repeat is not flagged clinically required.
- ``prior_use_episodes`` — a **prior used** is a prior retrieved to a requesting site, viewed in a
  comparison, shared by link or exported to media (``prior_use_events``, written by
  ``record_prior_use`` and copied from the audit trail by ``archive.repeats.audit_uses``). Uses of
  one person's priors of one class close together form one episode.
- an **avoided repeat** is an episode after which the person had no exam of that class from the day
  of the first use to the end of the window after the last use (``pending`` while it is open).
- ``repeat_avoided`` / ``study_dose`` — **dose avoided** is the dose of the prior that was used
  instead (CT DLP and CTDIvol; CR/DX detector air kerma from the exposure index); **cost avoided**
  its class's fee.
- ``repeat_metrics_daily``: all of the above per day, site, class and modality family.

The editable tables (classes, windows, fees, rules, clinical flags, archive coverage) are changed
through ``archive.repeats.classes``; identity decisions through ``archive.patients.linking.decide``.
Imports, pulls, the listener and the demo keep the links and facts current through
``archive.repeats.update``.
"""

from archive.repeats.prior_use import KINDS, record_prior_use

__all__ = ["record_prior_use", "KINDS"]
