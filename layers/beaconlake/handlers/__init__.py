"""The Lambda handlers' bodies: the one place that joins the HTTP layer and the services to the
composition root (`wiring`). AWS calls them through `functions/<name>/app.py`; the local
gateway (`beaconlake serve`) calls the very same functions."""
