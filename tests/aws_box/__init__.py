"""AWS in a box: the real Lambda handlers over moto, with Firehose and Athena stand-ins that
follow the synthesized template (see conftest.py, firehose.py, athena.py)."""
