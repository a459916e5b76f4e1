"""Property-based tests of the served API with schemathesis, from the server's own /openapi.json.

Schemathesis generates requests from the document, valid ones and deliberately invalid ones,
sends them to a real server over HTTP and applies every check it has (no server errors, status
codes, content types, response schemas and headers as documented, invalid data refused, valid
data accepted, authentication not ignored, response time). Seeded and bounded: the same
examples every run, a minute or so on two cores.

URL inputs never leave the machine: the server runs through ``loopback_serve``, whose name
resolver answers 127.0.0.1 for every host and address, with only 127.0.0.1 on the allow-list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.server import RunningServer, run_server

CONFIG = """
url_allow_list = ["127.0.0.1/32"]
url_connect_timeout = 1
url_read_timeout = 2
body_read_timeout_seconds = 5
log_level = "WARNING"

[plans.pro]
monthly_credits = 100000000
"""

# The endpoint that takes input gets most of the examples; the others take none worth varying.
EXAMPLES = {"/v1/imagecaption": 800}
EXAMPLES_ELSEWHERE = 10
# Operations where a request that fits the document can still be refused: the document cannot
# say what makes a string or a file an image (the hostile corpus covers that), nor which
# callback URLs resolve to public addresses and which languages the model serving speaks (a
# job's callback_url and lang), so "every valid request is accepted" (positive_data_acceptance)
# does not apply to them; every other check does.
NOT_EXPRESSIBLE = {"/v1/imagecaption", "/v1/imagecaption/jobs"}


@pytest.fixture(scope="module")
def loopback_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = Path(tmp_path_factory.mktemp("property"))
    with run_server(data_dir, CONFIG, launcher="tests.e2e.loopback_serve") as running:
        yield running


@pytest.fixture(scope="module")
def property_key(loopback_server: RunningServer) -> str:
    return loopback_server.create_key("pro")


@pytest.fixture(scope="module")
def api_schema(loopback_server: RunningServer) -> BaseSchema:
    """The served document. Parameters it does not name are not "invalid data" here: the API
    ignores them, as the hosted service does (the SDKs send their own extras), so negative
    examples do not add them."""
    schema = schemathesis.openapi.from_url(loopback_server.url + "/openapi.json")
    schema.config.generation.update(allow_extra_parameters=False)
    return schema


def _first_failure(operation: APIOperation, mode: GenerationMode, key: str) -> str | None:
    """Run the generated requests of one operation; the failure schemathesis reports, or None.

    Negative mode has nothing to generate for an operation without inputs (Unsatisfiable).
    """
    excluded = [positive_data_acceptance] if operation.path in NOT_EXPRESSIBLE else []
    examples = EXAMPLES.get(operation.path, EXAMPLES_ELSEWHERE)

    @seed(20261130)
    @settings(
        max_examples=examples,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def holds(case: Case) -> None:
        case.call_and_validate(headers={"X-API-Key": key}, excluded_checks=excluded, timeout=30)

    try:
        holds()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE or operation.path in EXAMPLES:
            return f"{operation.label} ({mode}): nothing could be generated"
    except Exception as failure:
        return f"{operation.label} ({mode}):\n{failure}"
    return None


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_every_operation_holds_up_to_generated_requests(
    api_schema: BaseSchema, property_key: str, mode: GenerationMode
) -> None:
    """Each operation of the document in turn, with requests that fit it (positive) and that
    break it (negative); every failure is collected so that one run shows them all."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert set(EXAMPLES) <= {operation.path for operation in operations}
    failures = [_first_failure(operation, mode, property_key) for operation in operations]
    assert not any(failures), "\n\n".join(filter(None, failures))
