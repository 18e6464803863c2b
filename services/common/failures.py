"""Which failures are the infrastructure's, and which are the record's.

The one error policy (DESIGN.md "One pipeline") turns on this question. An infrastructure failure
— PostgreSQL or the broker unreachable, restarting, out of connections, a connection cut mid-way —
says nothing about the record: the batch is retried as a whole, with backoff, and nothing is
dead-lettered. Any other exception is taken to belong to some record in the batch: the batch is
split until the record that fails stands alone, and that record becomes a ``processing`` dead
letter while the rest proceeds. PostgreSQL's data errors (a value it cannot store, a constraint a
record breaks) are the record's, not the server's.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import errors as kafka_errors

_PG_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx: cannot connect, connection lost
    asyncpg.InterfaceError,  # the connection was closed under us, pool closing
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up / shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
    asyncpg.exceptions.InternalClientError,  # a connection terminated mid-operation
    asyncpg.exceptions.SerializationError,  # 40001: retry is the documented answer
    asyncpg.exceptions.DeadlockDetectedError,  # 40P01: likewise
)

_KAFKA_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.UnknownTopicOrPartitionError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.ProducerClosed,
)


class RetryLaterError(Exception):
    """Not a failure of the record: the world is not ready for it yet (e.g. its history is still
    arriving). The batch is retried as a whole, like an infrastructure failure."""


def is_infrastructure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) means a server is away, not that a record is bad."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _PG_INFRASTRUCTURE + _KAFKA_INFRASTRUCTURE + (RetryLaterError,)):
            return True
        if isinstance(current, OSError | ConnectionError | asyncio.TimeoutError):
            return True
        current = current.__cause__
    return False
