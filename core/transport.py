"""Faust's Kafka transport, with shorter fetch waits.

Faust builds its consumer with ``fetch_max_wait_ms=1500``: when a partition has nothing
new, a fetch may be held that long before the consumer asks again. On a broker that does
not answer a waiting fetch the moment data arrives, that wait is added to the path of
every change, which is what the API shows seconds late. ``FETCH_MAX_WAIT_MS`` bounds it.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport

__all__ = ["HubTransport", "FETCH_MAX_WAIT_MS"]

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class HubTransport(Transport):
    Consumer = _Consumer
