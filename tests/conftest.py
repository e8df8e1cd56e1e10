"""Fixtures shared by every kind of test: engines, real ones, not mocks."""

from __future__ import annotations

import pytest

from openphm import engine
from openphm.workspace import Workspace

#: The audit key the template's [audit] key_env names, for every test (and the commands they
#: start, which inherit the environment). Not a real key.
AUDIT_KEY = "openphm-test-audit-key-not-for-real-use-0123456789"


def pytest_addoption(parser):
    parser.addoption(
        "--slow", action="store_true", help="also run tests marked slow (before a release)"
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (more of the same cases) run only with --slow: `make test` stays
    well inside CI's time, and a release runs them all."""
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: more of the same cases; run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def audit_key():
    """Session-wide, so module-scoped workspaces are keyed too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENPHM_AUDIT_KEY", AUDIT_KEY)
        yield AUDIT_KEY.encode()


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory):
    """One local Spark session for the whole run (it takes seconds to start)."""
    return engine.connect("spark://local[2]", base_dir=tmp_path_factory.mktemp("spark"))


@pytest.fixture
def duckdb_con():
    con = engine.connect("duckdb://")
    yield con
    engine.close(con)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def con(request):
    """Each test using this runs on DuckDB and on local Spark."""
    if request.param == "spark":
        return request.getfixturevalue("spark_con")
    return request.getfixturevalue("duckdb_con")


@pytest.fixture
def ws(tmp_path):
    """A fresh workspace on a DuckDB file, as `openphm init` makes it."""
    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()
