"""How the marts worker names a recreated topic and its ways out."""
from __future__ import annotations

from core.topic_names import consumed_topics
from marts.generations import explain, read_topics


def test_the_marts_explanation_names_mart_offsets_and_cdc_marts() -> None:
    message = explain(["t"], {"t": "a"}, {"t": "b"})

    assert message.startswith("source topics were recreated since the marts applied them: t (id a -> b). "
                              "The offsets in mart_offsets belong to the old topics")
    assert "run `cdc marts --adopt-topics`" in message and "run `cdc marts --rebuild`" in message


def test_the_marts_keep_the_ids_of_the_schema_changes_topic_with_the_others() -> None:
    assert read_topics("shop") == [*consumed_topics("shop"), "shop.public.cdc_schema_changes"]
