"""The vendor's own Python SDK works against us by changing only its base URL (and key)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from apiverve_imagecaption.apiClient import ImagecaptionAPIClient, ImagecaptionAPIClientError

from tests.e2e.conftest import ImageSite
from tests.e2e.server import RunningServer


@pytest.fixture
def sdk(server: RunningServer, pro_key: str) -> ImagecaptionAPIClient:
    client = ImagecaptionAPIClient(pro_key)  # its own client-side key check must pass
    client.base_url = server.url + "/v1/imagecaption"
    return client


def test_sdk_file_upload(
    sdk: ImagecaptionAPIClient, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    path = tmp_path / "cat.jpg"
    path.write_bytes(photos["cat"])
    result = sdk.execute_with_file_path(str(path))
    assert result["status"] == "ok"
    assert "cat" in result["data"]["caption"].lower()


def test_sdk_json_call_with_base64_and_url(
    sdk: ImagecaptionAPIClient, photos: dict[str, bytes], image_site: ImageSite
) -> None:
    result = sdk.execute({"image": base64.b64encode(photos["coffee"]).decode()})
    assert result["status"] == "ok"
    url = image_site.add("/sdk-cat.jpg", photos["cat"])
    result = sdk.execute({"image": url})
    assert "cat" in result["data"]["caption"].lower()


def test_sdk_sees_our_errors(server: RunningServer, photos: dict[str, bytes]) -> None:
    client = ImagecaptionAPIClient("0" * 40)
    client.base_url = server.url + "/v1/imagecaption"
    with pytest.raises(ImagecaptionAPIClientError) as raised:
        client.execute({"image": base64.b64encode(photos["cat"]).decode()})
    assert raised.value.status_code == 401
    assert raised.value.message == "Invalid API key"
