"""The facts a generated description is written from, as far as the actor may see them: what the model predicts
(task, outputs), from which inputs, how it was trained (estimator, key params, datasets) and how it scored. Both
drafters (offline sentences and the chat endpoint) get these and nothing else.

Only facts that stay true once the text is saved: a version's signature, its own MLmodel and its training run
never change. Nothing names another object (no run name or id, no source model), because the saved text is read
by everyone who may read this model. A run the actor may not read contributes nothing."""
from __future__ import annotations

import io
import json
import pickletools
import posixpath
import re
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field

import yaml

from registry import storage
from registry.errors import NotFound, RegistryError
from registry.models import ModelVersion, RegisteredModel
from registry.sources import artifact_path_of
from registry.tracking_selectors import run_details, run_get

_MAX_MLMODEL_BYTES = 1024 * 1024
_MAX_PICKLE_BYTES = 64 * 1024
_MAX_SKOPS_BYTES = 32 * 1024 * 1024  # read whole (a zip's directory is at its end); larger: no estimator named
_MAX_FIELDS = 50
_MAX_CLASSES, _MAX_CLASSES_BYTES = 1000, 256 * 1024

NUMERIC = {"double", "float", "long", "integer", "int", "int32", "int64", "float32", "float64"}
_CLASS_OUTPUTS = {"long", "integer", "int", "int32", "int64", "string", "boolean", "bool"}
_CLASSIFIER_NAMES = {"LogisticRegression", "LogisticRegressionCV", "SVC", "LinearSVC", "NuSVC", "GaussianNB",
                     "MultinomialNB", "BernoulliNB", "ComplementNB", "Perceptron", "RidgeClassifier"}
_REGRESSOR_NAMES = {"LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "SVR",
                    "LinearSVR", "NuSVR", "BayesianRidge", "HuberRegressor", "PoissonRegressor", "Lars"}
_CLUSTERING_NAMES = {"KMeans", "MiniBatchKMeans", "DBSCAN", "AgglomerativeClustering", "Birch", "MeanShift"}
# Hyperparameters worth naming first when a run logs many (autologging logs every constructor argument).
_KEY_PARAMS = ("C", "alpha", "l1_ratio", "penalty", "kernel", "max_iter", "n_estimators", "max_depth",
               "learning_rate", "num_leaves", "min_samples_leaf", "epochs", "batch_size", "lr", "solver")
_MAX_PARAMS = 5
# Metric names -> (label, classification/regression hint). Keys are normalised (lower case, no prefix/suffix).
METRIC_NAMES = {
    "accuracy": ("accuracy", "classification"), "acc": ("accuracy", "classification"),
    "f1": ("F1", "classification"), "precision": ("precision", "classification"),
    "recall": ("recall", "classification"), "auc": ("ROC AUC", "classification"),
    "roc_auc": ("ROC AUC", "classification"), "log_loss": ("log loss", "classification"),
    "logloss": ("log loss", "classification"), "r2": ("R²", "regression"),
    "rmse": ("RMSE", "regression"), "root_mean_squared_error": ("RMSE", "regression"),
    "mse": ("MSE", "regression"), "mean_squared_error": ("MSE", "regression"),
    "mae": ("MAE", "regression"), "mean_absolute_error": ("MAE", "regression"),
}
_SPLITS = (("training_", "training data"), ("train_", "training data"), ("validation_", "validation set"),
           ("val_", "validation set"), ("valid_", "validation set"), ("eval_", "evaluation set"),
           ("test_", "test set"))


@dataclass
class Field:
    name: str
    type: str


@dataclass
class Dataset:
    name: str
    context: str = ""  # training, validation, eval… as logged (mlflow.data.context)
    rows: int | None = None
    source: str = ""  # a table name or URI when the dataset names one


@dataclass
class Score:
    key: str
    value: float | None  # None: NaN
    label: str = ""  # "accuracy", "RMSE"…; empty for metrics without a common name
    split: str = ""  # "validation set"… from the key's prefix


@dataclass
class Facts:
    subject: str  # "version" or "model"
    version: int | None = None  # the version described (a model's draft is pinned to one)
    origin: str = ""  # copy, logged model, run, upload
    task: str = ""  # classification, regression, clustering
    task_from: str = ""  # what the task was inferred from
    flavor: str = ""  # e.g. sklearn
    estimator: str = ""  # e.g. LogisticRegression
    classes: list[str] = field(default_factory=list)  # a classifier's classes, when its files say them
    inputs: list[Field] = field(default_factory=list)
    outputs: list[Field] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)  # key params, in the order to name them
    other_params: int = 0
    datasets: list[Dataset] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    run_readable: bool = False

    def as_dict(self) -> dict:
        """The compact form sent to the chat endpoint (empty values left out)."""
        return {k: v for k, v in asdict(self).items() if v not in ("", None, [], {}, 0)}


def _fields(signature, part: str) -> list[Field]:
    if not isinstance(signature, dict) or not isinstance(signature.get(part), list):
        return []
    rows = []
    for index, spec in enumerate(signature[part][:_MAX_FIELDS * 20]):
        if not isinstance(spec, dict):
            continue
        kind = str(spec.get("type", ""))[:40]
        if kind == "tensor" and isinstance(spec.get("tensor-spec"), dict):
            tensor = spec["tensor-spec"]
            shape = tuple(tensor.get("shape") or ()) if isinstance(tensor.get("shape"), list) else ()
            kind = f"tensor {str(tensor.get('dtype', ''))[:20]} {shape}".strip()
        rows.append(Field(name=str(spec.get("name") or f"[{index}]")[:200], type=kind))
    return rows


def described_version(model: RegisteredModel) -> ModelVersion | None:
    """The version a model's draft describes: the newest with a signature, else the newest."""
    versions = ModelVersion.objects.filter(model=model).order_by("-version")
    return versions.filter(signature__isnull=False).first() or versions.first()


_remembered: ContextVar[dict | None] = ContextVar("description_facts", default=None)


@contextmanager
def remembered_facts():
    """Within it, facts_for collects each object's facts for an actor once: one Generate asks for them up to three
    times (each draft, and Built from), and reading the model's files is the costly part."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def facts_for(obj, *, actor) -> Facts:
    """The facts about `obj` (a version, or a model's described version) that `actor` may see."""
    memo = _remembered.get()
    key = (type(obj).__name__, obj.pk, getattr(actor, "pk", None))
    if memo is not None and key in memo:
        return memo[key]
    facts = _collect(obj, actor)
    if memo is not None:
        memo[key] = facts
    return facts


def _collect(obj, actor) -> Facts:
    if isinstance(obj, RegisteredModel):
        mv = described_version(obj)
        facts = Facts(subject="model", version=mv.version if mv else None)
    elif isinstance(obj, ModelVersion):
        mv, facts = obj, Facts(subject="version")
    else:
        raise TypeError(f"cannot describe {type(obj).__name__}")
    if mv is None:
        return facts
    facts.origin = _origin(mv)
    facts.inputs = _fields(mv.signature, "inputs")
    facts.outputs = _fields(mv.signature, "outputs")
    _add_flavor(facts, mv)
    _add_run(facts, mv.run_id, actor)
    _infer_task(facts)
    return facts


def _origin(mv: ModelVersion) -> str:
    from registry.source_visibility import source_kind

    if source_kind(mv) == "copy":
        return "copy"
    if mv.logged_model_id:
        return "logged model"
    return "run" if mv.run_id else ""


# ---- the version's own MLmodel -----------------------------------------------------------------------------

def _add_flavor(facts: Facts, mv: ModelVersion) -> None:
    """The flavor and estimator class from the version's own files (the MLmodel, and the first class a pickled
    model names, read without unpickling it)."""
    try:
        root = artifact_path_of(mv.storage_location)
        with storage.open_read(posixpath.join(root, "MLmodel")) as handle:
            document = yaml.safe_load(handle.read(_MAX_MLMODEL_BYTES).decode("utf-8", errors="replace"))
    except (RegistryError, OSError, yaml.YAMLError, ValueError):
        return
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict):
        return
    native = [name for name in flavors if name != "python_function"]
    facts.flavor = str(native[0] if native else ("python_function" if flavors else ""))[:40]
    spec = flavors.get("sklearn")
    if isinstance(spec, dict) and isinstance(spec.get("pickled_model"), str):
        path = posixpath.join(root, spec["pickled_model"])
        if spec.get("serialization_format") == "skops":
            facts.estimator, facts.classes = _skops_class(path)
        else:
            facts.estimator = _pickled_class(path)


def _skops_class(path: str) -> tuple[str, list[str]]:
    """The top object's class in a skops file (a zip whose schema.json names it) and, for a classifier, its
    classes (`classes_`, a plain numpy array in the zip), read without loading the model."""
    try:
        if storage.size(path) > _MAX_SKOPS_BYTES:
            return "", []
        with storage.open_read(path) as handle:
            data = handle.read(_MAX_SKOPS_BYTES)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > _MAX_MLMODEL_BYTES:
                return "", []
            schema = json.loads(archive.read(info))
            if not isinstance(schema, dict):
                return "", []
            name = schema.get("__class__")
            return (_class_name(name) if isinstance(name, str) else ""), _skops_classes(archive, schema)
    except (RegistryError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        return "", []


def _skops_classes(archive: zipfile.ZipFile, schema: dict) -> list[str]:
    content = schema.get("content")
    content = content.get("content") if isinstance(content, dict) else None
    node = content.get("classes_") if isinstance(content, dict) else None
    if not isinstance(node, dict) or node.get("__loader__") != "NdArrayNode" or not isinstance(node.get("file"), str):
        return []
    try:
        info = archive.getinfo(node["file"])
        if info.file_size > _MAX_CLASSES_BYTES:
            return []
        import numpy

        values = numpy.load(io.BytesIO(archive.read(info)), allow_pickle=False)  # no objects: never runs code
    except (KeyError, ValueError, OSError, ImportError):
        return []
    if values.ndim != 1 or values.dtype.kind not in "biuU" or len(values) > _MAX_CLASSES:
        return []
    return [str(v)[:100] for v in values.tolist()]


def _pickled_class(path: str) -> str:
    """The name of the first class a pickle refers to (the estimator, or the pipeline around it), read with
    pickletools, which never runs it."""
    try:
        with storage.open_read(path) as handle:
            data = handle.read(_MAX_PICKLE_BYTES)
    except (RegistryError, OSError, ValueError):
        return ""
    return pickled_class_of(data)


def pickled_class_of(data: bytes) -> str:
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                return _class_name(arg.split(" ")[-1])
            if opcode.name == "STACK_GLOBAL" and strings:
                return _class_name(strings[-1])
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a truncated or foreign file: no estimator named  # noqa: BLE001
        return ""
    return ""


def _class_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,80}", name) else ""


# ---- the source run ----------------------------------------------------------------------------------------

def _add_run(facts: Facts, run_id: str, actor) -> None:
    if not run_id:
        return
    try:
        run = run_get(actor=actor, run_id=run_id)
    except NotFound:
        return  # a run this user may not read contributes nothing
    facts.run_readable = True
    details = run_details([run], actor=actor)[run.pk]
    tags = {t.key: t.value for t in details.tags}
    if not facts.estimator and tags.get("estimator_name"):  # set by autologging
        facts.estimator = _class_name(tags["estimator_name"].strip())
    params = {p.key: p.value for p in details.params}
    chosen = [k for k in _KEY_PARAMS if k in params]
    if not chosen:
        chosen = list(params)[:_MAX_PARAMS]
    chosen = chosen[:_MAX_PARAMS]
    facts.params = {k: params[k][:40] for k in chosen}
    facts.other_params = len(params) - len(chosen)
    for run_input in details.inputs[:_MAX_FIELDS]:
        facts.datasets.append(_dataset(run_input))
    for metric in details.metrics[:_MAX_FIELDS]:
        facts.scores.append(_score(metric.key, None if metric.is_nan else metric.value))


def _json(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except (json.JSONDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _dataset(run_input) -> Dataset:
    dataset = run_input.dataset
    tags = {t.get("key"): t.get("value") for t in run_input.tags if isinstance(t, dict)} \
        if isinstance(run_input.tags, list) else {}
    rows = _json(dataset.profile).get("num_rows")
    source = _json(dataset.source)
    named = ""
    if source.get("delta_table_name") or source.get("table_name"):
        named = str(source.get("delta_table_name") or source.get("table_name"))[:200]
        if source.get("delta_table_version") is not None:
            named += f" (version {source['delta_table_version']})"
    elif isinstance(source.get("url") or source.get("uri"), str):
        uri = source.get("url") or source.get("uri")
        if re.match(r"^(https?|s3|gs|abfss|dbfs)://", uri):
            named = uri[:200]
    return Dataset(name=dataset.name[:200], context=str(tags.get("mlflow.data.context") or "")[:40],
                   rows=rows if isinstance(rows, int) and rows >= 0 else None, source=named)


def _score(key: str, value: float | None) -> Score:
    name, split = key.lower(), ""
    for prefix, label in _SPLITS:
        if name.startswith(prefix):
            name, split = name[len(prefix):], label
            break
    if name.endswith("_score"):
        name = name[:-len("_score")]
    known = METRIC_NAMES.get(name)
    return Score(key=key[:100], value=value, label=known[0] if known else "", split=split)


# ---- the task ----------------------------------------------------------------------------------------------

def _infer_task(facts: Facts) -> None:
    name = facts.estimator
    if name:
        if name in _CLUSTERING_NAMES:
            facts.task, facts.task_from = "clustering", "the estimator"
        elif name in _CLASSIFIER_NAMES or name.endswith("Classifier") or name.endswith("ClassifierCV"):
            facts.task, facts.task_from = "classification", "the estimator"
        elif name in _REGRESSOR_NAMES or name.endswith("Regressor") or name.endswith("Regression"):
            facts.task, facts.task_from = "regression", "the estimator"
        if facts.task:
            return
    hints = {METRIC_NAMES[m][1] for m in (_score_key(s) for s in facts.scores) if m in METRIC_NAMES}
    if len(hints) == 1:
        facts.task, facts.task_from = hints.pop(), "the metrics"
        return
    if len(facts.outputs) == 1:
        kind = facts.outputs[0].type
        if kind in _CLASS_OUTPUTS:
            facts.task, facts.task_from = "classification", "the output type"
        elif kind in ("double", "float"):
            facts.task, facts.task_from = "regression", "the output type"


def _score_key(score: Score) -> str:
    return next((k for k, v in METRIC_NAMES.items() if v[0] == score.label), "")


# ---- what the dialog lists under "Built from" ----------------------------------------------------------------

def facts_rows(facts: Facts) -> list[tuple[str, str]]:
    """(label, value) rows of the facts, for the person deciding whether a draft says them right."""
    rows: list[tuple[str, str]] = []
    if facts.subject == "model":
        rows.append(("Described version", str(facts.version) if facts.version else "none yet"))
    if facts.task:
        rows.append(("Task", f"{facts.task} (from {facts.task_from})"))
    if facts.outputs:
        rows.append((f"Outputs ({len(facts.outputs)})", _listed(facts.outputs)))
    if facts.inputs:
        rows.append((f"Inputs ({len(facts.inputs)})", _listed(facts.inputs)))
    if not facts.inputs and not facts.outputs:
        rows.append(("Signature", "none"))
    if facts.classes:
        rows.append((f"Classes ({len(facts.classes)})", ", ".join(facts.classes[:20])
                     + (f" and {len(facts.classes) - 20} more" if len(facts.classes) > 20 else "")))
    if facts.flavor:
        rows.append(("Flavor", facts.flavor))
    if facts.estimator:
        rows.append(("Estimator", facts.estimator))
    if not facts.run_readable:
        rows.append(("Training run", "none you may read: nothing from a run is used"))
        return rows
    if facts.params:
        more = f" and {facts.other_params} more" if facts.other_params else ""
        rows.append(("Parameters", ", ".join(f"{k}={v}" for k, v in facts.params.items()) + more))
    for d in facts.datasets:
        detail = ", ".join(x for x in (d.context, d.rows is not None and f"{d.rows} rows", d.source) if x)
        rows.append(("Dataset", d.name + (f" ({detail})" if detail else "")))
    if facts.scores:
        rows.append(("Metrics", ", ".join(
            f"{s.key}={'NaN' if s.value is None else f'{s.value:.4g}'}" for s in facts.scores)))
    return rows


def _listed(fields: list[Field], shown: int = 12) -> str:
    names = ["unnamed" if f.name.startswith("[") else f.name for f in fields[:shown]]
    text = ", ".join(f"{name} ({f.type})" if f.type else name for name, f in zip(names, fields))
    return text + (f" and {len(fields) - shown} more" if len(fields) > shown else "")
