"""Beaconlake: privacy-first, cookie-less web analytics (the domain package)."""

__version__ = "0.1.0"
