"""Error classes: the code map is complete, flags are class attributes, messages name things."""

from __future__ import annotations

import builtins

import pytest

from pulsarload.client import errors as e
from pulsarload.errors import ConfigError
from pulsarload.wire.enums import ServerError


def test_every_server_error_code_has_a_class() -> None:
    for code in ServerError:
        cls = e.SERVER_ERRORS[int(code)]
        assert issubclass(cls, e.BrokerReportedError)
        assert int(cls.code) == int(code)


def test_error_from_server_names_code_and_message() -> None:
    err = e.error_from_server(ServerError.TopicNotFound, "no such topic")
    assert isinstance(err, e.TopicNotFound)
    assert "TopicNotFound" in str(err) and "no such topic" in str(err)
    assert err.result is e.Result.TopicNotFound
    assert not err.retriable


def test_unknown_code_becomes_unknown_error() -> None:
    err = e.error_from_server(999, "from a newer broker")
    assert type(err) is e.UnknownError
    assert err.code == 999
    assert "999" in str(err)


@pytest.mark.parametrize(
    ("cls", "retriable"),
    [
        (e.ServiceUnitNotReady, True),
        (e.TooManyRequests, True),
        (e.BrokerPersistenceError, True),
        (e.BrokerMetadataError, True),
        (e.ConnectError, True),
        (e.TimeoutError, True),
        (e.TopicTerminated, False),
        (e.ProducerFenced, False),
        (e.AuthorizationError, False),
        (e.InvalidTopicName, False),
        (e.ProducerQueueIsFull, True),
    ],
)
def test_retriable_flags(cls: type[e.PulsarError], retriable: bool) -> None:
    assert cls.retriable is retriable


def test_builtin_compatible_bases() -> None:
    assert issubclass(e.TimeoutError, builtins.TimeoutError)
    assert e.Timeout is e.TimeoutError
    assert issubclass(e.ConnectError, ConnectionError)
    assert issubclass(e.InvalidTopicName, ValueError)
    assert issubclass(e.InvalidConfiguration, ConfigError)
    assert issubclass(e.InvalidUrl, ValueError)
    err = e.ConnectError("cannot connect to localhost:1", address="localhost:1")
    assert str(err) == "cannot connect to localhost:1"
    assert err.address == "localhost:1"


def test_result_of() -> None:
    assert e.result_of(None) is e.Result.Ok
    assert e.result_of(e.ProducerQueueIsFull()) is e.Result.ProducerQueueIsFull
    assert e.result_of(RuntimeError()) is e.Result.UnknownError


def test_result_values_match_official_client() -> None:
    # Spot checks of the official client's numbering (pulsar.Result).
    assert e.Result.Timeout == 3
    assert e.Result.ProducerQueueIsFull == 27
    assert e.Result.TopicTerminated == 33
    assert e.Result.ProducerFenced == 43
