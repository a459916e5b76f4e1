"""The runtimes a user could pick instead of ours, measured beside ours by bench_models.

Optimum's ONNX Runtime models, OpenVINO through optimum-intel, CTranslate2 and ONNX Runtime GenAI
all need transformers < 5, and the project runs transformers 5: they live in their own virtual
environment (``requirements.txt``, made by ``environment.py`` when first needed). Two sides:

- in the project's environment: ``environment.py`` (the venv) and ``client.py`` (a worker
  process per peer configuration, and the measurement that drives it);
- in the peers' environment: ``worker.py`` (the process), ``runtimes.py`` (each peer configured
  as its documentation recommends), ``fidelity.py`` (int8 against float32 on a trained model).
  These import nothing from the project, only each other and the peers' libraries.

This file imports nothing, so that both sides can import the package.
"""
