"""The region's sites, administered: add, change, list and remove hospitals and what identifies
their studies (MRN issuers, InstitutionName values, AE titles), with re-attribution of the studies
already stored (``archive.sites.registry``)."""
