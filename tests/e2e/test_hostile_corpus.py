"""Every file of the hostile corpus, as an upload and as JSON, gets the answer it must get.

Whatever a stranger sends, the answer is the stated status in the envelope (never a 500 or a
stack trace), and only the answers that are 200 are charged: the ledger is checked at the end
against what was actually answered.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import httpx
import pytest

from tests.e2e.corpus import Case, corpus
from tests.e2e.server import RunningServer

ENDPOINT = "/v1/imagecaption"
CASES = corpus()
ANSWERED: Counter[int] = Counter()


@pytest.fixture(scope="module")
def corpus_key(server: RunningServer) -> tuple[str, str]:
    return server.create_key_with_id("pro")


def send(client: httpx.Client, key: str, data: bytes, how: str) -> httpx.Response:
    headers = {"X-API-Key": key}
    if how == "upload":
        return client.post(ENDPOINT, headers=headers, files={"image": ("image.jpg", data)})
    return client.post(ENDPOINT, headers=headers, json={"image": base64.b64encode(data).decode()})


@pytest.mark.parametrize("how", ["upload", "json"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(
    client: httpx.Client, corpus_key: tuple[str, str], case: Case, how: str
) -> None:
    response = send(client, corpus_key[0], case.build(), how)
    ANSWERED[response.status_code] += 1
    assert response.status_code == case.status, response.text
    body = response.json()
    assert body["status"] == ("ok" if case.status == 200 else "error"), body
    if case.status == 200:
        assert body["data"]["caption"], body
    else:
        assert body["data"] is None
        message = body["error"].lower()
        assert any(part in message for part in case.fragment.lower().split("|")), message
    assert "Traceback" not in response.text


def test_the_ledger_charged_exactly_the_answers_that_were_200(
    server: RunningServer, corpus_key: tuple[str, str]
) -> None:
    """Runs after the cases (pytest keeps the order of a module): whatever subset ran, the
    key paid 10 credits for each 200 and nothing for anything else."""
    if not ANSWERED:
        pytest.skip("no corpus case ran in this session")
    report = json.loads(server.cli("usage", "--key", corpus_key[1], "--json"))
    assert report["charged_calls"] == ANSWERED[200], report
    assert report["credits"] == 10 * ANSWERED[200], report
    assert report["calls"] == sum(ANSWERED.values()), report
    assert not [status for status in report["by_status"] if int(status) >= 500], report
