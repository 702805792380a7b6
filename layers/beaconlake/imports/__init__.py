"""Imports of other tools' exported statistics (today Plausible's CSV export): read, checked,
and stored as per-day imported tables that queries merge with native data
(beaconlake.stats.sql.imported). docs/IMPORT.md."""
