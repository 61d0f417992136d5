"""Comparing a current exam with its priors.

- ``priors``: relevant priors of the same person across sites, ranked;
- ``series_pairing``: which prior series to show beside each current series;
- ``scroll_link``: linked scrolling between two series (by patient position, offset or image number);
- ``image_registration``: how far a prior is shifted against the current exam (a suggestion);
- ``measurements``: distance and region statistics, and copying a measurement to another image;
- ``difference``: the difference view of radiographs (current minus the registered prior);
- ``record``: opening a comparison is audited and counts each prior as used.
"""

from archive.comparison.priors import Prior, relevant_priors
from archive.comparison.record import audit_comparison, record_prior_uses
from archive.comparison.scroll_link import SyncPlan, plan_sync
from archive.comparison.series_pairing import pair_series

__all__ = ["Prior", "SyncPlan", "audit_comparison", "pair_series", "plan_sync", "record_prior_uses",
           "relevant_priors"]
