"""Generate, end to end: real sklearn models logged and registered with the unmodified `mlflow` client (a live
server and a real Celery worker), then the facts and the offline sentences drawn from them: what the model
predicts, from which inputs, how it was trained and how it scored. A reader who may not read the training run
gets nothing from it; the chat endpoint is sent the same facts (a loopback stand-in, an external service)."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error, r2_score

from explorer.description_facts import facts_for, facts_rows
from explorer.generators import generate_description, offline_description
from explorer.llm_generator import chat_description
from registry.models import Grant, ModelVersion, Privilege, RegisteredModel
from tests.e2e.test_mlflow_client import mlflow_env  # noqa: F401  (the fixture)
from tests.explorer.test_llm_generator import chat_server, chat_settings  # noqa: F401  (the fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _log_classifier() -> tuple[str, str, float]:
    import mlflow

    data = load_iris(as_frame=True)
    X, y = data.data, data.target
    X_val, y_val = X.iloc[::5], y.iloc[::5]  # 30 rows
    X_train, y_train = X.drop(X_val.index), y.drop(y_val.index)  # 120 rows
    model = LogisticRegression(C=1.0, max_iter=300).fit(X_train, y_train)
    mlflow.set_experiment("alice-private")
    with mlflow.start_run(run_name="secret-iris-run") as run:
        mlflow.log_params({"C": 1.0, "max_iter": 300})
        mlflow.log_input(mlflow.data.from_pandas(X_train.assign(target=y_train), name="iris_train",
                                                 targets="target"), context="training")
        mlflow.log_input(mlflow.data.from_pandas(X_val.assign(target=y_val), name="iris_val", targets="target"),
                         context="validation")
        accuracy = float(model.score(X_val, y_val))
        mlflow.log_metric("val_accuracy", accuracy)
        mlflow.log_metric("val_f1_score", 0.9612)
        mlflow.log_metric("custom_margin", 0.5)
        mlflow.sklearn.log_model(model, name="model", input_example=X_train.iloc[:3],
                                 registered_model_name="prod.ml_team.iris")
    return run.info.run_id, run.info.run_name, accuracy


def _bob(mlflow_env, name: str = "iris"):
    """A consumer who may load prod.ml_team.<name> and modify its description, but not read the experiment."""
    bob = mlflow_env["User"].objects.create_user("bob", "bob@example.com", "pw-bob")
    model = RegisteredModel.objects.get(schema__catalog__name="prod", name=name)
    Grant.objects.create(privilege=Privilege.USE_CATALOG, user=bob, catalog=model.schema.catalog)
    Grant.objects.create(privilege=Privilege.USE_SCHEMA, user=bob, schema=model.schema)
    Grant.objects.create(privilege=Privilege.MANAGE, user=bob, model=model)
    return bob


def test_a_classifier_is_described_in_sentences_and_a_hidden_run_adds_nothing(mlflow_env, chat_settings):
    run_id, run_name, accuracy = _log_classifier()
    alice = mlflow_env["alice"]
    mv = ModelVersion.objects.get(model__schema__catalog__name="prod", model__name="iris", version=1)

    facts = facts_for(mv, actor=alice)
    assert (facts.task, facts.task_from) == ("classification", "the estimator")
    assert (facts.flavor, facts.estimator, facts.classes) == ("sklearn", "LogisticRegression", ["0", "1", "2"])
    assert [f.name for f in facts.inputs][:2] == ["sepal length (cm)", "sepal width (cm)"] and len(facts.inputs) == 4
    assert facts.params == {"C": "1.0", "max_iter": "300"}
    assert [(d.name, d.context, d.rows) for d in facts.datasets] == [("iris_train", "training", 120),
                                                                     ("iris_val", "validation", 30)]
    assert {(s.key, s.label, s.split) for s in facts.scores} == {
        ("val_accuracy", "accuracy", "validation set"), ("val_f1_score", "F1", "validation set"),
        ("custom_margin", "", "")}

    draft = offline_description(mv, actor=alice)
    assert draft.startswith("A classifier: predicts a class label (0–2) from four numeric inputs: `sepal length (cm)`, "
                            "`sepal width (cm)`, `petal length (cm)` and `petal width (cm)`.")
    assert ("Trained as a logistic regression (`C=1.0` and `max_iter=300`) on `iris_train` (120 rows) and "
            "evaluated on `iris_val` (30 rows).") in draft
    assert (f"It scored {accuracy:.4g} accuracy and an F1 of 0.9612 on the validation set. "
            "Other metrics: `custom_margin=0.5`.") in draft
    for secret in (run_id, run_name, "alice-private"):
        assert secret not in draft

    # A model's draft says the same of the version it is pinned to.
    model_draft = offline_description(mv.model, actor=alice)
    assert model_draft.startswith("A Unity Catalog model. Version 1:\n\nA classifier: predicts a class label (0–2)")

    # bob may manage the model but not read the run: the version's own files still say what it is, the run adds
    # nothing, and neither the draft, the facts he is shown nor the chat prompt mention it.
    bob = _bob(mlflow_env)
    hidden = facts_for(mv, actor=bob)
    assert not hidden.run_readable and hidden.params == {} and hidden.datasets == [] and hidden.scores == []
    assert hidden.estimator == "LogisticRegression" and len(hidden.inputs) == 4
    bob_draft = offline_description(mv, actor=bob)
    for secret in ("iris_train", "iris_val", "C=1.0", "accuracy", "0.9612", "custom_margin", run_id, run_name):
        assert secret not in bob_draft
        assert secret not in json.dumps(facts_rows(hidden))
    assert "Trained as a logistic regression." in bob_draft

    # The chat endpoint is sent the same facts as compact JSON (alice: the run's; bob: none of it).
    assert chat_description(mv, actor=alice) == "A **drafted** iris classifier."
    prompt = chat_settings.seen[-1]["body"]["messages"][1]["content"]
    sent = json.loads(prompt.split("\n\n", 1)[1])
    assert sent == json.loads(json.dumps(facts.as_dict()))
    assert sent["estimator"] == "LogisticRegression" and sent["datasets"][0] == {"name": "iris_train",
                                                                                 "context": "training", "rows": 120,
                                                                                 "source": ""}
    assert run_id not in prompt and run_name not in prompt
    chat_description(mv, actor=bob)
    bob_prompt = chat_settings.seen[-1]["body"]["messages"][1]["content"]
    for secret in ("iris_train", "val_accuracy", "max_iter", run_id, run_name):
        assert secret not in bob_prompt
    assert "sepal length (cm)" in bob_prompt

    # The dialog shows both drafts and what they were built from; Accept on the chat's saves that one only.
    client = Client()
    client.force_login(alice)
    url = "/models/prod.ml_team.iris/versions/1/description/"
    html = client.post(url, {"op": "generate"}).content.decode()
    assert 'data-draft-source="offline"' in html and 'data-draft-source="chat"' in html
    assert "Built from" in html and "LogisticRegression" in html and "iris_train (training, 120 rows)" in html
    assert ModelVersion.objects.get(pk=mv.pk).description == ""
    saved = client.post(url, {"op": "accept:1", "draft": ["offline text", "chat text"]})
    assert saved.status_code in (204, 302)
    assert ModelVersion.objects.get(pk=mv.pk).description == "chat text"


def test_a_regressor_is_described_with_its_scores(mlflow_env):
    import mlflow

    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target
    model = LinearRegression().fit(X, y)
    predicted = model.predict(X)
    mlflow.set_experiment("alice-diabetes")
    with mlflow.start_run():
        mlflow.log_input(mlflow.data.from_pandas(X.assign(target=y), name="diabetes", targets="target"),
                         context="training")
        mlflow.log_metric("training_r2_score", r2_score(y, predicted))
        mlflow.log_metric("training_root_mean_squared_error", mean_squared_error(y, predicted) ** 0.5)
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3],
                                 registered_model_name="prod.ml_team.diabetes")
    r2, rmse = r2_score(y, predicted), mean_squared_error(y, predicted) ** 0.5
    mv = ModelVersion.objects.get(model__schema__catalog__name="prod", model__name="diabetes", version=1)
    facts = facts_for(mv, actor=mlflow_env["alice"])
    assert (facts.task, facts.estimator) == ("regression", "LinearRegression")
    draft = generate_description(mv, actor=mlflow_env["alice"])
    assert draft.startswith("A regression model: predicts a number from ten numeric inputs: `age`, `sex`, `bmi`, "
                            "`bp`, `s1`, `s2` and 4 more.")
    assert "Trained as a linear regression on `diabetes` (442 rows)." in draft
    assert f"It scored an R² of {r2:.4g} and an RMSE of {rmse:.4g} on the training data." in draft

    # Without the run: still a regression (from the model's own files), with nothing of the run.
    bob = _bob(mlflow_env, "diabetes")
    hidden = offline_description(mv, actor=bob)
    assert hidden == ("A regression model: predicts a number from ten numeric inputs: `age`, `sex`, `bmi`, `bp`, "
                      "`s1`, `s2` and 4 more.\n\nTrained as a linear regression.\n\nRegistered from a logged model.")
