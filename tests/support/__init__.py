"""Helpers shared by the test suites: the rules Athena holds SQL to (athena_rules)."""
