"""Who may use which page: the one table of pages and roles.

The router shows a user only the pages their roles allow, and every page refuses a user whose
roles do not allow it (a typed-in URL gets a plain refusal).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROLES = ("manager", "technologist", "quality", "clerk", "admin")
ALL = frozenset(ROLES)
PAGES_DIR = Path(__file__).parent / "pages"


@dataclass(frozen=True)
class PageSpec:
    name: str            # the page's key: also its widget-key prefix and URL path
    file: str            # file name under dashboard/pages/
    title: str
    icon: str
    section: str
    roles: frozenset[str]

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "home.py", "Home", ":material/home:", "Archive", ALL),
    PageSpec("browse", "browse.py", "Browse studies", ":material/search:", "Archive", ALL),
    PageSpec("study", "study.py", "Study", ":material/folder_open:", "Archive", ALL),
    PageSpec("viewer", "viewer.py", "Image viewer", ":material/visibility:", "Archive",
             frozenset({"technologist", "quality", "admin"})),
    PageSpec("compare", "compare.py", "Compare with priors", ":material/compare:", "Archive",
             frozenset({"technologist", "quality", "admin"})),
    PageSpec("metrics", "metrics.py", "Department metrics", ":material/monitoring:", "Department",
             frozenset({"manager", "quality", "admin"})),
    PageSpec("repeats", "repeats.py", "Repeat exams", ":material/repeat:", "Department",
             frozenset({"manager", "quality", "admin"})),
    # Share links, the audit trail and link usage.
    PageSpec("share_links", "share_links.py", "Share links", ":material/share:", "Patients",
             frozenset({"clerk", "admin"})),
    # Patients' own accounts: the clerks' desk and the managers' figures (issue 20).
    PageSpec("patient_access", "patient_access.py", "Patient access", ":material/badge:", "Patients",
             frozenset({"clerk", "manager", "admin"})),
    PageSpec("audit_log", "audit_log.py", "Audit trail", ":material/policy:", "Administration",
             frozenset({"admin"})),
    PageSpec("share_usage", "share_usage.py", "Share link usage", ":material/link:", "Department",
             frozenset({"manager", "admin"})),
    # HL7 results kept for review and reports waiting for their study.
    PageSpec("hl7_review", "hl7_review.py", "HL7 review", ":material/rule:", "Administration",
             frozenset({"quality", "admin"})),
    # The region's sites and what identifies their studies (issue 17).
    PageSpec("sites", "sites.py", "Sites", ":material/domain:", "Administration", frozenset({"admin"})),
)
SIGN_IN = PageSpec("sign_in", "sign_in.py", "Sign in", ":material/login:", "Account", ALL)
BY_NAME = {p.name: p for p in PAGES + (SIGN_IN,)}

# Roles that may see image pixels (the viewer and the study page's thumbnails).
IMAGE_ROLES = BY_NAME["viewer"].roles
# Who sees who a patient is (name, patient ID, birth date, sex) and what their reports say.
# Managers run the department from counts, rates and sites: on browse and study pages they see
# the studies (date, site, modality, description, accession, image counts) but not the patient,
# as on the repeat-exam page. Everyone else's work is with the patient in front of them.
IDENTITY_ROLES = ALL - {"manager"}
# Repeat exams page: who sees patient names/IDs in its drill-downs, who edits classes and windows.
REPEAT_DETAIL_ROLES = frozenset({"quality", "admin"})
REPEAT_EDIT_ROLES = frozenset({"manager", "admin"})


def allowed(page: str, roles: frozenset[str] | set[str]) -> bool:
    """True when any of ``roles`` may use ``page``."""
    spec = BY_NAME.get(page)
    return spec is not None and bool(spec.roles & set(roles))


def pages_for(roles: frozenset[str] | set[str]) -> list[PageSpec]:
    return [p for p in PAGES if p.roles & set(roles)]
