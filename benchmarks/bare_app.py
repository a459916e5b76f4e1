"""The bare web stack: a FastAPI endpoint that takes the same multipart upload as the caption
endpoint and answers a fixed caption in the same envelope, with nothing else around it (no key,
no credits, no usage, no metrics, no logs). ``bench_overhead`` measures the real server against
it, so what is left between the two is what the service itself adds to a call.

    python -m uvicorn benchmarks.bare_app:app --port 8001 --no-access-log
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, File, UploadFile

app = FastAPI()


@app.post("/v1/imagecaption")
async def caption(image: Annotated[UploadFile, File()]) -> dict[str, Any]:
    data = await image.read()
    return {"status": "ok", "error": None, "data": {"caption": f"{len(data)} bytes"}}
