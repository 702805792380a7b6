"""The site catalogue: sites, goals, saved funnels, annotations and segments, kept in the
product (the record store) and seeded from the configuration."""

from beaconlake.sites.catalogue import Catalogue
from beaconlake.sites.records import MemoryRecords
from beaconlake.sites.validation import CATALOGUE_LIMITS, CatalogueLimits

__all__ = ["CATALOGUE_LIMITS", "Catalogue", "CatalogueLimits", "MemoryRecords"]
