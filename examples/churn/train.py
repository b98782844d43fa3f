#!/usr/bin/env python3
"""Churn models tracked with cairn: scikit-learn on a synthetic churn data set.

Four random forests (a grid over n_estimators and max_depth), grown ten trees at
a time with warm_start so that validation AUC and log loss are logged per step,
and one gradient-boosting model logged per boosting iteration
(staged_predict_proba). Each run records its hyperparameters, tags, final
validation metrics (auc, accuracy, f1), the pickled model and its feature
importances as artifacts, and the data it was trained and validated on as
dataset versions (content-hashed: the same rows are the same version).

    PYTHONPATH=sdk/python CAIRN_COORDINATOR=tcp://127.0.0.1:7700 \\
        python3 examples/churn/train.py

Needs scikit-learn and numpy (Debian: python3-sklearn python3-numpy).
"""
import argparse
import json
import os
import pickle
import sys
import tempfile
import time

try:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils.class_weight import compute_class_weight
except ImportError as e:
    sys.exit(f"train.py: {e}: install scikit-learn and numpy "
             "(Debian: apt-get install python3-sklearn python3-numpy)")

import cairn

SEED = 7
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "support_calls",
            "contract_months", "num_products", "late_payments", "data_usage_gb",
            "satisfaction_score", "days_since_last_login", "discount_pct", "referrals"]
DATASET = "synthetic-churn-v1"


def churn_data():
    """A fixed synthetic churn table: 20% churners, named features, a stratified
    75/25 train/validation split."""
    X, y = make_classification(n_samples=6000, n_features=len(FEATURES), n_informative=6,
                               n_redundant=3, n_clusters_per_class=2, weights=[0.8, 0.2],
                               flip_y=0.03, class_sep=0.8, random_state=SEED)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=SEED)


def write_datasets(data, workdir):
    """The split as files: a directory for the training set (features and
    labels), one CSV for the validation set. Returns their paths."""
    X_train, X_val, y_train, y_val = data
    train_dir = os.path.join(workdir, "churn-train")
    os.makedirs(train_dir)
    np.savetxt(os.path.join(train_dir, "features.csv"), X_train, delimiter=",", fmt="%.6f",
               header=",".join(FEATURES), comments="")
    np.savetxt(os.path.join(train_dir, "labels.csv"), y_train, fmt="%d", header="churned",
               comments="")
    val_file = os.path.join(workdir, "churn-validation.csv")
    np.savetxt(val_file, np.column_stack([X_val, y_val]), delimiter=",", fmt="%.6f",
               header=",".join(FEATURES + ["churned"]), comments="")
    return train_dir, val_file


def log_data(run, datasets):
    train_dir, val_file = datasets
    run.log_dataset(train_dir, name="churn-train", context="training")
    run.log_dataset(val_file, name="churn-validation", context="validation")


def final_metrics(y_true, proba):
    """The run's headline validation metrics (numpy floats, logged as they come)."""
    pred = (proba >= 0.5).astype(int)
    return {
        "auc": roc_auc_score(y_true, proba),
        "accuracy": accuracy_score(y_true, pred),
        "f1": f1_score(y_true, pred),
    }


def log_model(run, model, workdir):
    """The pickled model and its feature importances, as artifacts."""
    path = os.path.join(workdir, "model.pkl")
    with open(path, "wb") as f:
        pickle.dump(model, f)
    run.log_artifact(path)
    importances = dict(zip(FEATURES, (round(float(v), 6) for v in model.feature_importances_)))
    path = os.path.join(workdir, "feature_importance.json")
    with open(path, "w") as f:
        json.dump(dict(sorted(importances.items(), key=lambda kv: -kv[1])), f, indent=2)
    run.log_artifact(path)


def train_forest(experiment, data, datasets, n_estimators, max_depth, workdir):
    X_train, X_val, y_train, y_val = data
    params = {"model": "random_forest", "n_estimators": n_estimators, "max_depth": max_depth,
              "min_samples_leaf": 2, "max_features": "sqrt", "class_weight": "balanced",
              "random_state": SEED}
    name = f"rf-{n_estimators}x{max_depth}"
    with cairn.start_run(experiment=experiment, run_name=name,
                         tags={"team": "growth", "dataset": DATASET}) as run:
        run.log_params(params)
        run.log_params({"n_train": len(y_train), "n_val": len(y_val), "n_features": len(FEATURES)})
        run.set_tag("model_family", "bagging")
        log_data(run, datasets)
        # "balanced" computed once on the whole training set: warm_start refits on it.
        weights = compute_class_weight("balanced", classes=np.unique(y_train), y=y_train)
        model = RandomForestClassifier(n_estimators=0, max_depth=max_depth, min_samples_leaf=2,
                                       max_features="sqrt", warm_start=True, n_jobs=-1,
                                       class_weight=dict(enumerate(weights)), random_state=SEED)
        started = time.monotonic()
        for trees in range(10, n_estimators + 1, 10):  # grow 10 trees per step
            model.n_estimators = trees
            model.fit(X_train, y_train)
            proba = model.predict_proba(X_val)[:, 1]
            run.log_metrics({"val_auc": roc_auc_score(y_val, proba),
                             "val_logloss": log_loss(y_val, proba)}, step=trees)
        run.set_tag("fit_seconds", f"{time.monotonic() - started:.2f}")
        scores = final_metrics(y_val, model.predict_proba(X_val)[:, 1])
        run.log_metrics(scores, step=n_estimators)
        log_model(run, model, workdir)
    return run, scores


def train_boosting(experiment, data, datasets, n_estimators, learning_rate, max_depth, workdir):
    X_train, X_val, y_train, y_val = data
    params = {"model": "gradient_boosting", "n_estimators": n_estimators,
              "learning_rate": learning_rate, "max_depth": max_depth, "subsample": 0.8,
              "random_state": SEED}
    with cairn.start_run(experiment=experiment, run_name=f"gb-{n_estimators}-lr{learning_rate}",
                         tags={"team": "growth", "dataset": DATASET}) as run:
        run.log_params(params)
        run.log_params({"n_train": len(y_train), "n_val": len(y_val), "n_features": len(FEATURES)})
        run.set_tag("model_family", "boosting")
        log_data(run, datasets)
        model = GradientBoostingClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                                           max_depth=max_depth, subsample=0.8, random_state=SEED)
        started = time.monotonic()
        model.fit(X_train, y_train)
        run.set_tag("fit_seconds", f"{time.monotonic() - started:.2f}")
        # One point per boosting iteration, from the fitted model's stages.
        for i, proba in enumerate(model.staged_predict_proba(X_val), start=1):
            p = proba[:, 1]
            run.log_metrics({"val_auc": roc_auc_score(y_val, p), "val_logloss": log_loss(y_val, p)},
                            step=i)
        scores = final_metrics(y_val, model.predict_proba(X_val)[:, 1])
        run.log_metrics(scores, step=n_estimators)
        log_model(run, model, workdir)
    return run, scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--experiment", default="churn")
    args = ap.parse_args()

    data = churn_data()
    print(f"data: {len(data[2])} train / {len(data[3])} validation rows, "
          f"{len(FEATURES)} features, churn rate {np.mean(data[2]):.1%}")
    results = []
    with tempfile.TemporaryDirectory(prefix="cairn-churn-") as workdir:
        datasets = write_datasets(data, workdir)
        for n_estimators in (60, 150):
            for max_depth in (6, 12):
                results.append(train_forest(args.experiment, data, datasets, n_estimators,
                                            max_depth, workdir))
                run, scores = results[-1]
                print(f"run {run.id}  {run.name:<16} auc={scores['auc']:.4f}")
        results.append(train_boosting(args.experiment, data, datasets, 120, 0.1, 3, workdir))
        run, scores = results[-1]
        print(f"run {run.id}  {run.name:<16} auc={scores['auc']:.4f}")

    best, scores = max(results, key=lambda r: r[1]["auc"])
    stored = cairn.get_run(best.id)  # read back from the coordinator
    print(f"best: {best.name} ({best.id}), auc {stored['metrics']['auc']:.4f}, "
          f"{len(stored['artifacts'])} artifacts")


if __name__ == "__main__":
    main()
