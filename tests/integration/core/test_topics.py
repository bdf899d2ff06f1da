"""core.topics on the real broker: the pipeline's topics as they are created."""
from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from core.topic_names import schema_changes_topic
from core.topics import ensure_source_topics

pytestmark = pytest.mark.integration


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return {name: entry.value for name, entry in future.result(timeout=15).items()}


def test_the_schema_changes_topic_is_created_to_be_kept_forever(stack_env: dict[str, str]) -> None:
    prefix = f"topics{uuid.uuid4().hex[:8]}"
    ensure_source_topics(stack_env["KAFKA_BOOTSTRAP"], prefix, 4, 1)
    config = topic_config(stack_env["KAFKA_BOOTSTRAP"], schema_changes_topic(prefix))
    assert (config["retention.ms"], config["retention.bytes"]) == ("-1", "-1")
