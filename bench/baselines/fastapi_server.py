"""The pilot's usual stack, as a baseline for Tarmac's serving benchmark: FastAPI + uvicorn + scikit-learn.

    python3 bench/baselines/fastapi_server.py --weights DIR/lr30.weights.json --check DIR/lr30.check.json --port 8000
    python3 bench/baselines/fastapi_server.py --probe        # prints versions as JSON; exit 3 if an import fails

It loads the weights the benchmark's TypeScript generator wrote (bench/models/generate.ts) into a real scikit-learn
estimator (LogisticRegression, or MLPClassifier fitted on a dummy set and then given the weights), checks that it
reproduces ONNX Runtime's answers on a few rows (exit 4 if not), and serves POST /predict with a body
{"records": [{"f00": ..., ...}]} validated by a pydantic model, as a pilot would write it. GET /health answers once
the app is up. One uvicorn worker process, log level warning.
"""

import argparse
import base64
import json
import sys
import warnings

CHECK_TOLERANCE = 1e-4


def probe():
    """Imports the stack; returns its versions or raises ImportError."""
    import fastapi
    import numpy
    import pydantic
    import sklearn
    import uvicorn

    return {
        "python": sys.version.split()[0],
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "pydantic": pydantic.VERSION if hasattr(pydantic, "VERSION") else pydantic.version.VERSION,
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
    }


def array_of(encoded):
    import numpy as np

    if encoded["dtype"] != "float32":
        raise ValueError("unsupported dtype %s" % encoded["dtype"])
    data = np.frombuffer(base64.b64decode(encoded["base64"]), dtype="<f4")
    # float64, as a scikit-learn model trained on float64 data would hold its weights.
    return data.reshape(encoded["shape"]).astype(np.float64)


def build_estimator(spec):
    """A fitted scikit-learn estimator carrying the generator's weights."""
    import numpy as np

    classes = np.array(spec["classes"])
    features = spec["features"]
    if spec["kind"] == "logistic":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression()
        model.coef_ = array_of(spec["coef"]).reshape(1, len(features))
        model.intercept_ = np.array([spec["intercept"]], dtype=np.float64)
        model.classes_ = classes
        model.n_features_in_ = len(features)
        return model
    if spec["kind"] == "mlp":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        layers = spec["layers"]
        model = MLPClassifier(hidden_layer_sizes=tuple(spec["hidden_layer_sizes"]), activation=spec["activation"], max_iter=1, random_state=0)
        # A tiny dummy fit sets up the estimator (layer count, output activation, classes); the weights come after.
        dummy_x = np.zeros((len(classes), len(features)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(dummy_x, classes)
        coefs = [array_of(layer["weights"]) for layer in layers]
        intercepts = [array_of(layer["bias"]) for layer in layers]
        # The ONNX model ends in a 2-unit softmax; scikit-learn's binary MLP ends in one logistic unit. They are the
        # same function: softmax([z0, z1])[1] = sigmoid(z1 - z0).
        last_w, last_b = coefs[-1], intercepts[-1]
        coefs[-1] = (last_w[:, 1] - last_w[:, 0]).reshape(-1, 1)
        intercepts[-1] = np.array([last_b[1] - last_b[0]])
        for fitted, ours in zip(model.coefs_, coefs):
            if fitted.shape != ours.shape:
                raise ValueError("layer shape %s does not match scikit-learn's %s" % (ours.shape, fitted.shape))
        model.coefs_ = coefs
        model.intercepts_ = intercepts
        return model
    raise ValueError("unknown model kind %r" % spec["kind"])


def verify(model, check):
    """Exits 4 unless the estimator reproduces ONNX Runtime's probabilities (and labels) on the check rows."""
    import numpy as np

    rows = np.array(check["rows"], dtype=np.float64)
    expected = np.array(check["probabilities"], dtype=np.float64)
    got = model.predict_proba(rows)
    worst = float(np.max(np.abs(got - expected)))
    labels = [int(x) for x in model.predict(rows)]
    if worst > CHECK_TOLERANCE or labels != check["labels"]:
        print("fastapi baseline: scikit-learn disagrees with ONNX Runtime: max |dp| = %.3g (tolerance %g), labels %s vs %s"
              % (worst, CHECK_TOLERANCE, labels, check["labels"]), file=sys.stderr)
        sys.exit(4)
    return worst


def make_app(model, features, facts):
    from typing import List

    import numpy as np
    from fastapi import FastAPI
    from pydantic import BaseModel, create_model

    # The record schema a pilot writes by hand (f00: float, f01: float, ...), generated here for 30 fields.
    Record = create_model("Record", **{name: (float, ...) for name in features})

    class PredictRequest(BaseModel):
        records: List[Record]

    labels = [str(c) for c in model.classes_]
    app = FastAPI(title="pilot model")

    @app.get("/health")
    def health():
        return {"status": "ok", **facts}

    @app.post("/predict")
    def predict(request: PredictRequest):
        x = np.array([[getattr(r, name) for name in features] for r in request.records], dtype=np.float64)
        probabilities = model.predict_proba(x)
        predicted = model.classes_[np.argmax(probabilities, axis=1)]
        return {
            "predictions": [
                {"prediction": int(p), "probabilities": {label: float(v) for label, v in zip(labels, row)}}
                for p, row in zip(predicted, probabilities)
            ]
        }

    return app


def watch_stdin():
    """Benchmark plumbing, not part of the pilot's server: exit when the parent closes our stdin."""
    import os
    import signal
    import threading

    def wait():
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", action="store_true", help="print the stack's versions as JSON and exit")
    parser.add_argument("--weights", help="<name>.weights.json from bench/models/generate.ts")
    parser.add_argument("--check", help="<name>.check.json: ONNX Runtime's answers to reproduce")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (the benchmark went away)")
    args = parser.parse_args()

    try:
        versions = probe()
    except ImportError as err:
        print("fastapi baseline: cannot import the Python stack: %s" % err, file=sys.stderr)
        sys.exit(3)
    if args.probe:
        print(json.dumps(versions))
        return
    if not args.weights or not args.check:
        parser.error("--weights and --check are required")

    with open(args.weights) as f:
        spec = json.load(f)
    with open(args.check) as f:
        check = json.load(f)
    model = build_estimator(spec)
    worst = verify(model, check)
    facts = {**versions, "estimator": type(model).__name__, "max_abs_diff_vs_onnx": worst}

    if args.exit_on_stdin_eof:
        watch_stdin()

    import uvicorn

    uvicorn.run(make_app(model, spec["features"], facts), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
