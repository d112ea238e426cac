#!/usr/bin/env python3
"""River's side of `cdc-features bench model --compare-river`.

Reads the operation stream the Swift bench wrote (one line per operation, in event-time order):
    p <example> <i>:<v> <i>:<v> ...     predict: score the example (before any label)
    l <example> <y> <i>:<v> ...         learn: the example's label is known (chargeback or horizon)
and runs river.linear_model.LogisticRegression with optim.FTRLProximal on it: the same model,
features (already hashed), parameters and order of operations as the Swift side. Parsing is not
timed; the loop of predict_proba_one / learn_one is. Scores go to the output file (one per
predict, in order), timing to stdout as JSON.
"""
import json
import sys
import time

from river import linear_model, optim


def main():
    ops_path, scores_path, alpha, beta, l1, l2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7])
    ops = []
    with open(ops_path) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "p":
                x = {int(k): float(v) for k, v in (t.split(":") for t in parts[2:])}
                ops.append((0, x, None))
            else:
                x = {int(k): float(v) for k, v in (t.split(":") for t in parts[3:])}
                ops.append((1, x, parts[2] == "1"))
    # The bias is feature 0 (learned by FTRL like every weight), so River's separate intercept is off.
    model = linear_model.LogisticRegression(
        optimizer=optim.FTRLProximal(alpha=alpha, beta=beta, l1=l1, l2=l2), l2=0.0, intercept_lr=0.0)
    scores = []
    start = time.perf_counter()
    for kind, x, y in ops:
        if kind == 0:
            scores.append(model.predict_proba_one(x).get(True, 0.0))
        else:
            model.learn_one(x, y)
    seconds = time.perf_counter() - start
    with open(scores_path, "w") as f:
        f.write("\n".join(repr(s) for s in scores))
        f.write("\n")
    print(json.dumps({"seconds": seconds, "predictions": len(scores), "operations": len(ops)}))


if __name__ == "__main__":
    main()
