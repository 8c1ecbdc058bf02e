"""traces.spantree: the span tree and its waterfall, flattened for rendering."""

from dataclasses import dataclass

from traces.spantree import build_span_tree, format_duration_ns


@dataclass
class Row:
    span_id: str
    parent_id: str | None
    start_time_ns: int
    end_time_ns: int | None = None
    name: str = "span"
    span_type: str = "CHAIN"
    status_code: str = "OK"


def test_depth_first_order_by_start_time_with_closing_levels():
    rows = [
        Row("root", None, 0, 100),
        Row("b", "root", 50, 90),
        Row("a", "root", 10, 40),
        Row("a1", "a", 12, 20),
        Row("b1", "b", 60, 70),
    ]
    tree = build_span_tree(rows, label_counts={"b": 2})
    assert [n.span_id for n in tree.nodes] == ["root", "a", "a1", "b", "b1"]
    assert [n.depth for n in tree.nodes] == [0, 1, 2, 1, 2]
    assert [n.has_children for n in tree.nodes] == [True, True, False, True, False]
    # a1 closes a's list; b1 closes b's and root's.
    assert [len(n.closes) for n in tree.nodes] == [0, 0, 1, 0, 2]
    assert tree.root_span_id == "root" and tree.nodes[0].is_root
    assert tree.get("b").label_count == 2
    assert tree.duration_ns == 100


def test_waterfall_positions():
    tree = build_span_tree([Row("r", None, 1000, 2000), Row("c", "r", 1500, 1750)])
    child = tree.get("c")
    assert (child.offset_pct, child.width_pct) == (50.0, 25.0)
    assert child.bar_class == "o-50 w-25"


def test_running_spans_reach_the_end_and_tiny_spans_stay_visible():
    tree = build_span_tree(
        [Row("r", None, 0, 1_000_000), Row("run", "r", 500_000, None), Row("t", "r", 10, 11)]
    )
    assert tree.get("run").width_pct == 50.0
    assert tree.get("run").duration_label == "running"
    assert tree.get("t").width_pct == 0.4


def test_orphans_and_cycles_are_shown_not_lost():
    rows = [
        Row("root", None, 0, 10),
        Row("orphan", "missing", 5, 6),
        Row("x", "y", 7, 8),
        Row("y", "x", 8, 9),
        Row("self", "self", 9, 10),
    ]
    tree = build_span_tree(rows)
    assert sorted(n.span_id for n in tree.nodes) == ["orphan", "root", "self", "x", "y"]
    assert tree.root_span_id == "root"
    assert not tree.get("orphan").is_root


def test_empty_trace():
    tree = build_span_tree([])
    assert tree.nodes == [] and tree.root_span_id is None and tree.get("x") is None


def test_type_labels():
    tree = build_span_tree(
        [
            Row("r", None, 0, 1, span_type="CHAT_MODEL"),
            Row("c", "r", 0, 1, span_type="my_custom_step"),
        ]
    )
    assert (tree.nodes[0].type_label, tree.nodes[0].type_class) == ("Chat", "chat_model")
    assert (tree.nodes[1].type_label, tree.nodes[1].type_class) == ("My custom ", "other")


def test_format_duration():
    assert format_duration_ns(None) == "running"
    assert format_duration_ns(850_000) == "850 µs"
    assert format_duration_ns(2_500_000) == "2.5 ms"
    assert format_duration_ns(120_000_000) == "120 ms"
    assert format_duration_ns(1_250_000_000) == "1.25 s"
    assert format_duration_ns(42_000_000_000) == "42.0 s"
    assert format_duration_ns(125_000_000_000) == "2 min 5 s"
