"""The dashboard: a web page over the stats API, with sessions and shared links."""
