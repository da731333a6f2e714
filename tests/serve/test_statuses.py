"""The one table from error to HTTP status: every SamscapeError is a 4xx with a one-line detail
in the page's words, and an error takes the status of its most specific class."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import samscape.serve  # noqa: F401  (every error class the server can raise is defined)
from samscape import errors
from samscape.serve import Roots, create_app
from samscape.serve.statuses import STATUSES, status_of


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


ALL = sorted(set(_subclasses(errors.SamscapeError)), key=lambda c: c.__name__)


class LostTileError(errors.PathNotFoundError):
    """A subclass no table names: it takes its parent's status."""


class FoundAndTooLargeError(errors.BodyTooLargeError, errors.NotFoundError):
    """Two classes of the table: the first in the MRO wins, whatever the table's order."""


def _raising(app: FastAPI, error: type[Exception]) -> TestClient:
    def fail() -> None:
        raise error("no model --model x;\nchoose --model y")

    app.add_api_route("/api/fail", fail)
    app.router.routes.insert(0, app.router.routes.pop())  # before the static files at /
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)


def test_every_error_class_is_known() -> None:
    assert len(ALL) >= 25 and errors.NotFoundError in ALL
    assert set(STATUSES) <= set(ALL)


@pytest.mark.parametrize("error", ALL, ids=lambda c: c.__name__)
def test_every_error_is_a_4xx_with_a_one_line_detail_in_the_pages_words(tmp_path, error) -> None:
    answer = _raising(create_app(Roots.of(tmp_path)), error).get("/api/fail")
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.status_code == status_of(error("x"))  # the guards answer with the same table
    assert answer.json() == {"detail": "no model Model x; choose Model y"}


@pytest.mark.parametrize(("error", "status"), [
    (errors.SettingsError, 400), (errors.HostNotAllowedError, 400), (errors.PathNotAllowedError, 403),
    (errors.OriginNotAllowedError, 403), (errors.NotFoundError, 404), (errors.PathNotFoundError, 404),
    (errors.UnknownModelError, 404), (errors.BodyTooLargeError, 413), (LostTileError, 404),
    (FoundAndTooLargeError, 413),
])
def test_an_error_takes_the_status_of_its_most_specific_class(tmp_path, error, status) -> None:
    assert _raising(create_app(Roots.of(tmp_path)), error).get("/api/fail").status_code == status
    assert status_of(error("x")) == status


def test_an_invalid_body_is_422_naming_the_field(tmp_path) -> None:
    client = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    answer = client.post("/api/sessions", json={"source": "1", "crs": 0})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("crs: ") and answer.json()["errors"]
