"""docs/COST.md's tables are what `python -m bench.cost_tables` writes from today's model and
cdk.json: a change to either without regenerating them fails here."""

from bench import cost_tables


def test_the_cost_tables_in_the_docs_are_current():
    text = cost_tables.DOC.read_text("utf-8")
    assert cost_tables.rewritten(text) == text, "run: python -m bench.cost_tables"


def test_the_tables_say_whether_each_target_is_met():
    table = cost_tables.tables()
    for events in cost_tables.TARGETS:
        assert f"| {events:,} | 200 |" in table
    assert table.count("≤ $") == len(cost_tables.TARGETS)
