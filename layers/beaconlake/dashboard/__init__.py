"""The dashboard: a web page over the stats API (its files in `static/`), with logins and
shared links (`logins`) and the operator's password (`passwords`). Its routes are
`beaconlake.web.dashboard`'s."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
