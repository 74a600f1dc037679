"""Django settings, all read from the environment (12-factor); defaults make `make run` work unconfigured."""
import re
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from explorer.env import env_bool, env_choice, env_int, env_list, env_proxy_ssl_header, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_str("SECRET_KEY", "")
    if configured:
        return configured
    # Quick start: a random key kept under var/ so sessions survive restarts without configuration.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS in production (docs/operations.md, "Production settings"); all off for the quick start's plain http.
# Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER names the header it sets to "https" (and must strip
# from clients). The health probe stays reachable over plain http for load balancers.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", r"^healthz$")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if SECURE_HSTS_PRELOAD and not (SECURE_HSTS_INCLUDE_SUBDOMAINS and SECURE_HSTS_SECONDS >= 31536000):
    # Browsers' preload lists accept only a year or more with subdomains; anything less would be ignored.
    raise ImproperlyConfigured("SECURE_HSTS_PRELOAD needs SECURE_HSTS_SECONDS >= 31536000 and "
                               "SECURE_HSTS_INCLUDE_SUBDOMAINS=true")

# Content-Security-Policy (django-csp): only our own files run or style the pages (vendored htmx, static/js,
# static/css); no inline script, handler or style attribute, no eval (htmx's is off in base.html), no framing.
# Images in markdown descriptions come from this origin unless CSP_EXTRA_IMG_SRC lists more sources.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *env_list("CSP_EXTRA_IMG_SRC", "")],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_htmx",
    "axes",
    "registry",
    "explorer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF (which reads form bodies): refuses unstorable text in URLs and bodies, and unknown lengths.
    "registry.request_guard.RequestGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "registry.request_context.RequestContextMiddleware",
    # API writes and their answers in one transaction (a committed write is answered as a success).
    "registry.api.write_transaction.WriteTransactionMiddleware",
    # Last, as django-axes requires: it turns a sign-in refused for a lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "explorer.urls"
WSGI_APPLICATION = "explorer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_env = environ.Env()
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": _env.db_url_config(DATABASE_URL)}
except Exception as exc:  # environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker processes share the file: wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Short OLTP queries: PostgreSQL's JIT compiler spent ~190 ms compiling plans of 1 ms queries on large
    # registries (bench/ui_pages.py). Off for this application's connections only.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Artifacts (runs, logged models, model versions) live in their own storage root.
ARTIFACT_ROOT = Path(env_str("ARTIFACT_ROOT", str(VAR_DIR / "artifacts")))
ARTIFACT_STORAGE_BACKEND = env_str("ARTIFACT_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
# S3-compatible object storage instead (registry/storage_s3.py): s3://<bucket>/<prefix>. Credentials and region
# as boto3 reads them from the environment; AWS_S3_ENDPOINT_URL for a server other than AWS (MinIO, Ceph, ...).
ARTIFACT_STORE = env_str("ARTIFACT_STORE", "").strip()
if ARTIFACT_STORE and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?", ARTIFACT_STORE):
    raise ImproperlyConfigured(f"ARTIFACT_STORE must be empty (the filesystem) or s3://<bucket>/<prefix>, "
                               f"got {ARTIFACT_STORE!r}")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "")
AWS_S3_ADDRESSING_STYLE = env_choice("AWS_S3_ADDRESSING_STYLE", "path" if AWS_S3_ENDPOINT_URL else "auto",
                                     ("auto", "path", "virtual"))
# Uploads above the threshold go in parts of this size; an upload holds about 2 x threshold + 2 parts in memory.
ARTIFACT_S3_MULTIPART_THRESHOLD = env_int("ARTIFACT_S3_MULTIPART_THRESHOLD", 8 * 1024 * 1024, minimum=5 * 1024 * 1024)
ARTIFACT_S3_MULTIPART_CHUNK_BYTES = env_int("ARTIFACT_S3_MULTIPART_CHUNK_BYTES", 8 * 1024 * 1024, minimum=5 * 1024 * 1024)
# Server-side copies: one CopyObject up to this size (S3 allows at most 5 GiB), UploadPartCopy parts above it.
ARTIFACT_S3_MULTIPART_COPY_THRESHOLD = env_int("ARTIFACT_S3_MULTIPART_COPY_THRESHOLD", 5 * 1024 ** 3,
                                               minimum=5 * 1024 * 1024)
if ARTIFACT_S3_MULTIPART_COPY_THRESHOLD > 5 * 1024 ** 3:
    raise ImproperlyConfigured("ARTIFACT_S3_MULTIPART_COPY_THRESHOLD must be at most 5 GiB (S3's CopyObject limit)")
# Downloads answered with a 302 to a presigned GET of the object (S3 only), valid this many seconds.
ARTIFACT_DOWNLOAD_REDIRECT = env_bool("ARTIFACT_DOWNLOAD_REDIRECT", False)
ARTIFACT_DOWNLOAD_REDIRECT_SECONDS = env_int("ARTIFACT_DOWNLOAD_REDIRECT_SECONDS", 60, minimum=1)
# Multipart uploads on S3 started this long ago and never completed (a process killed mid-upload) are aborted.
ARTIFACT_S3_ABANDONED_UPLOAD_HOURS = env_int("ARTIFACT_S3_ABANDONED_UPLOAD_HOURS", 24, minimum=1)
# How often each process re-reads which store holds the artifacts (manage.py artifacts_migrate switches it).
ARTIFACT_STORE_RECHECK_SECONDS = env_int("ARTIFACT_STORE_RECHECK_SECONDS", 5, minimum=0)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Sign-in throttling (django-axes, database handler: counts are shared by every web process). Failures are
# counted per user name and per client address, either of which locks at the limit for the cool-off; attempts
# during a lock-out extend it. A success does not reset the counts: with counts per name *or* address, a reset
# would let an attacker clear them by signing in to an account of their own between guesses.
AUTHENTICATION_BACKENDS = [
    "explorer.signin.SigninThrottleBackend",
    "explorer.principal_signin.PeopleModelBackend",  # ModelBackend; service principals never sign in
]
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "explorer.views.account.signin_locked_out"
AXES_USERNAME_CALLABLE = "explorer.signin.counted_username"
AXES_VERBOSE = False
# API token failures (registry/authentication.py): after this many bad tokens from one address within the
# window, every token from that address is answered 429 until the window ends.
TOKEN_FAILURE_LIMIT = env_int("TOKEN_FAILURE_LIMIT", 20, minimum=1)
TOKEN_FAILURE_WINDOW_SECONDS = env_int("TOKEN_FAILURE_WINDOW_SECONDS", 60, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.authentication.TokenAuthentication",
        "registry.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["registry.api.parsers.JSONObjectParser"],
    "EXCEPTION_HANDLER": "registry.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# JSON request bodies above this are refused with 400 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024 * 1024, minimum=1024)

# Celery: Redis (or any broker URL) when configured; otherwise kombu's filesystem transport under var/,
# which needs no server and works across processes. Never eager mode.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest job, so an unacknowledged job is not redelivered while still running (a
    # duplicate delivery would only wait on the job's database lease anyway).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600, minimum=1),
                                       "socket_connect_timeout": 2}
# Publishing must never hang a request when the broker is down: one quick retry, then the job row stays QUEUED
# and the sweeper publishes it once the broker is back (kombu's default retries for several seconds).
CELERY_BROKER_TRANSPORT_OPTIONS.update({"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1})
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY = False
REDIS_URL = env_str("REDIS_URL", "")
# The cache holds counters every web process must share (token throttling), so never per-process memory:
# Redis when configured, else files under var/ (the quick start's gunicorn workers share the directory).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}

# Registry limits (Unity Catalog's defaults).
REGISTRY_MAX_ALIASES_PER_MODEL = env_int("REGISTRY_MAX_ALIASES_PER_MODEL", 10, minimum=1)
REGISTRY_MAX_TAGS_PER_OBJECT = env_int("REGISTRY_MAX_TAGS_PER_OBJECT", 50, minimum=1)
REGISTRY_MAX_TAG_KEY_LENGTH = env_int("REGISTRY_MAX_TAG_KEY_LENGTH", 255, minimum=1)
REGISTRY_MAX_TAG_VALUE_LENGTH = env_int("REGISTRY_MAX_TAG_VALUE_LENGTH", 5000, minimum=1)
REGISTRY_MAX_DESCRIPTION_LENGTH = env_int("REGISTRY_MAX_DESCRIPTION_LENGTH", 65536, minimum=1)
REGISTRY_MAX_SEARCH_RESULTS = env_int("REGISTRY_MAX_SEARCH_RESULTS", 100000, minimum=1)
TOKEN_DEFAULT_DAYS = env_int("TOKEN_DEFAULT_DAYS", 90, minimum=1)
# Per web process: the memory kept for repeated MLflow read answers (registry/api/answer_cache.py); 0 turns it off.
ANSWER_CACHE_MB = env_int("ANSWER_CACHE_MB", 32)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}, "null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # A foreign Host header is answered with 400; it is not worth a traceback in the log.
    "loggers": {"django.security.DisallowedHost": {"handlers": ["null"], "propagate": False}},
}

CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "explorer")
CELERY_BEAT_SCHEDULE = {
    # Jobs whose publish failed (broker down) or whose worker died are published again.
    "requeue-stale-jobs": {"task": "registry.tasks.requeue_stale_jobs",
                           "schedule": float(env_int("JOB_SWEEP_INTERVAL_SECONDS", 15, minimum=1))},
    # Hidden partial files of uploads that died with their process (a killed web worker) are removed.
    "sweep-partial-uploads": {"task": "registry.tasks.sweep_partial_uploads", "schedule": 600.0},
    # Uploads of the remote-registry path (registry/upload_area.py) that no READY version released.
    "sweep-upload-area": {"task": "registry.tasks.sweep_upload_area", "schedule": 600.0},
}
# A partial upload file not written to for this long belongs to an upload that will never finish.
ARTIFACT_PARTIAL_UPLOAD_MAX_AGE_SECONDS = env_int("ARTIFACT_PARTIAL_UPLOAD_MAX_AGE_SECONDS", 3600, minimum=1)
# The DBFS upload area of the MLflow client's remote-registry path (docs/remote-registry.md): bytes per user, and
# how long an upload nobody registered (or whose registration failed) is kept after its last write.
UPLOAD_AREA_MAX_BYTES = env_int("UPLOAD_AREA_MAX_BYTES", 5 * 1024 ** 3, minimum=1)
UPLOAD_AREA_MAX_AGE_SECONDS = env_int("UPLOAD_AREA_MAX_AGE_SECONDS", 24 * 3600, minimum=1)
# How long a model-versions/get-signed-download-uri URL opens its one file.
SIGNED_DOWNLOAD_TTL_SECONDS = env_int("SIGNED_DOWNLOAD_TTL_SECONDS", 300, minimum=1)
# This deployment's id in /.well-known/databricks-config (the databricks-sdk's workspace_id); derived from
# SECRET_KEY when unset, so it is stable across restarts and differs between deployments.
WORKSPACE_ID = env_str("WORKSPACE_ID", "")
# Remote registries (docs/remote-registry.md): users' tokens for other deployments are encrypted with this Fernet
# key (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`). Unset, a key
# is derived from SECRET_KEY (quick start): rotating SECRET_KEY then makes the stored tokens unreadable.
REMOTE_REGISTRY_KEY = env_str("REMOTE_REGISTRY_KEY", "")
REMOTE_REGISTRY_TIMEOUT_SECONDS = env_int("REMOTE_REGISTRY_TIMEOUT_SECONDS", 15, minimum=1)
# Remote registries on private, loopback or link-local addresses (and signed URLs pointing there) are refused unless
# their host is listed here (host names or IP literals, comma-separated), as for webhooks.
REMOTE_REGISTRY_ALLOWED_HOSTS = [h.lower() for h in env_list("REMOTE_REGISTRY_ALLOWED_HOSTS", "")]
# Jobs (registry/jobs.py). A worker renews its lease with every progress write; a job whose lease lapsed is
# taken over by the sweeper. Crashed attempts are retried with exponential backoff up to the cap.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60, minimum=1)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5, minimum=1)
JOB_STALE_QUEUED_SECONDS = env_int("JOB_STALE_QUEUED_SECONDS", 30, minimum=1)
JOB_RETRY_BACKOFF_MS = env_int("JOB_RETRY_BACKOFF_MS", 2000, minimum=1)
# Webhooks (registry/events). Target hosts on private, loopback or link-local addresses are refused unless listed
# here (host names or IP literals, comma-separated). A delivery is retried with exponential backoff on 5xx, 429,
# timeouts and connection errors until WEBHOOK_RETRY_WINDOW_SECONDS after the event; the lease must outlast a request.
WEBHOOK_ALLOWED_HOSTS = [h.lower() for h in env_list("WEBHOOK_ALLOWED_HOSTS", "")]
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_WINDOW_SECONDS = env_int("WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600, minimum=1)
WEBHOOK_RETRY_BACKOFF_MS = env_int("WEBHOOK_RETRY_BACKOFF_MS", 2000, minimum=1)
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 30, minimum=1)
# Email (notifications of followers, registry/events/emails.py): printed on the console unless EMAIL_BACKEND says
# otherwise; with EMAIL_HOST set, SMTP is the default. A refused email is retried EMAIL_MAX_ATTEMPTS times.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "emails"))  # for the file backend
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "catalog-explorer@localhost")
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 5, minimum=1)
EMAIL_RETRY_BACKOFF_MS = env_int("EMAIL_RETRY_BACKOFF_MS", 5000, minimum=1)
EMAIL_LEASE_SECONDS = env_int("EMAIL_LEASE_SECONDS", 60, minimum=1)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set at most one.")
# How copies of artifacts are verified: every byte of the copy is read back and its CRC-32 (default; what
# object stores use for transfers) or SHA-256 must equal the checksum recorded for the source at upload.
ARTIFACT_COPY_VERIFY = env_choice("ARTIFACT_COPY_VERIFY", "crc32", ("crc32", "sha256"))
# Copies inside the filesystem store are hard links of the (never rewritten) source files; off = byte copies.
ARTIFACT_COPY_LINKS = env_bool("ARTIFACT_COPY_LINKS", True)
# Test hook: slow every artifact copy down to this rate so progress can be watched mid-flight (0 = off).
# A throttled copy is a byte copy (no hard links), so it really takes its time.
ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = env_int("ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC", 0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: test worker processes must see the test database too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
# The "Generate" button's description drafter: a dotted path to a callable (explorer/generators.py).
DESCRIPTION_GENERATOR = env_str("DESCRIPTION_GENERATOR", "")
# Where served versions run (registry/serving/environments.py): `local`, the supervisor's own environment (a
# version's recorded requirements are checked against it), or `virtualenv`, one virtual environment per distinct
# requirements set, built with pip from the package index and cached by hash under SERVING_ENV_ROOT.
SERVING_ENV_MANAGER = env_choice("SERVING_ENV_MANAGER", "local", ("local", "virtualenv"))
SERVING_ENV_ROOT = Path(env_str("SERVING_ENV_ROOT", str(VAR_DIR / "serving" / "envs")))
# Seconds a model process may take to answer one scoring request before the caller gets 504 DEADLINE_EXCEEDED
# (the model process's own limit; the web tier waits a little longer, so that limit answers first).
SERVING_REQUEST_TIMEOUT_SECONDS = env_int("SERVING_REQUEST_TIMEOUT_SECONDS", 60, minimum=1)
# Micro-batching in model processes (registry/serving/scoring_app.py): requests that queue while a prediction runs are
# predicted together. `auto` batches models of row-wise flavors (sklearn, xgboost, lightgbm, catboost); `on` every
# model (only for pyfunc models whose predictions are row by row); `off` none.
SERVING_BATCHING = env_choice("SERVING_BATCHING", "auto", ("auto", "on", "off"))
