"""A small client for another deployment's MLflow REST API (a remote registry): the reads the explorer's remote
pages make and the file downloads an import makes, with the user's own token for that deployment, timeouts, and
one error type whose message can be shown as is (deployment down, token refused, not found, not our API).

Also the token's encryption at rest: Fernet with REMOTE_REGISTRY_KEY (or a key derived from SECRET_KEY)."""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import requests
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from registry.errors import InvalidParameter

_CHUNK = 1024 * 1024
MAX_LISTED_FILES = 10_000  # a version's files, recursively; more is not a model the explorer imports
MAX_SEARCH_PAGE = 100
MAX_VERSIONS_LISTED = 100  # a remote model's newest versions; any other is opened by its number


class RemoteError(Exception):
    """The remote deployment did not give an answer we can use; the message says why, for the page."""

    def __init__(self, message: str, *, status: int | None = None, error_code: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code

    @property
    def not_found(self) -> bool:
        return self.status == 404 or self.error_code == "RESOURCE_DOES_NOT_EXIST"


# ---- the token at rest -------------------------------------------------------------------------------------

def _fernet() -> Fernet:
    configured = settings.REMOTE_REGISTRY_KEY
    if configured:
        try:
            return Fernet(configured.encode())
        except (ValueError, TypeError):
            # A passphrase rather than a Fernet key: derive one from it (still only as strong as the passphrase).
            pass
        seed = configured
    else:
        # Quick start: derived from SECRET_KEY, so rotating SECRET_KEY makes stored remote tokens unreadable.
        seed = f"remote-registry:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()))


def encrypt_token(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_token(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise RemoteError("The stored token for this remote registry cannot be decrypted (REMOTE_REGISTRY_KEY or "
                          "SECRET_KEY changed since it was added): remove the remote registry and add it again.") \
            from None


# ---- URLs ----------------------------------------------------------------------------------------------------

def clean_base_url(raw: object) -> str:
    """The deployment's URL as stored: http(s), a host, no credentials, query or fragment, no trailing slash."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidParameter("Give the remote deployment's URL, e.g. https://prod.example.com.")
    url = raw.strip()
    if len(url) > 2000 or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise InvalidParameter("The URL must be at most 2000 characters, without spaces or control characters.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidParameter("The URL must start with https:// (or http://).")
    try:
        port = parts.port
    except ValueError:
        raise InvalidParameter("The URL's port is not a number between 1 and 65535.") from None
    if not parts.hostname:
        raise InvalidParameter("The URL must name a host, e.g. https://prod.example.com.")
    if parts.username or parts.password:
        raise InvalidParameter("Put the token in the token field, not in the URL.")
    if parts.query or parts.fragment:
        raise InvalidParameter("The URL must be the deployment's address only, without ?query or #fragment.")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def _public(ip) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.sixtofour or ip  # an IPv4 address carried in IPv6 is judged as that address
    return ip.is_global and not ip.is_multicast


def _refusal(url: str) -> tuple[str, bool]:
    """(why the server must not call `url`, whether that is final); ("", False) when it may. Only hosts whose
    every address is public, unless the host is in REMOTE_REGISTRY_ALLOWED_HOSTS. The remote is the user's
    choice, and so are the signed URLs it answers with: without this a user could make the server fetch internal
    addresses (and import what they answer). A host that does not resolve may resolve later: not final."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"{url[:200]!r} is not an http(s) URL.", True
    if host in settings.REMOTE_REGISTRY_ALLOWED_HOSTS:
        return "", False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        return f"The host {host!r} cannot be resolved ({exc}).", False
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _public(ip):
            return (f"The host {host!r} resolves to the private, loopback or link-local address {ip}. An admin can "
                    "allow the host in REMOTE_REGISTRY_ALLOWED_HOSTS."), True
    return "", False


def destination_refusal(url: str) -> str:
    return _refusal(url)[0]


def _check_destination(url: str, prefix: str = "") -> None:
    message, final = _refusal(url)
    if message:
        raise RemoteError(prefix + message, error_code="DESTINATION_REFUSED" if final else "")


# ---- the client ----------------------------------------------------------------------------------------------

@dataclass
class RemoteFile:
    path: str
    size: int


class RemoteClient:
    def __init__(self, base_url: str, token: str, *, label: str = ""):
        self.base_url = base_url.rstrip("/")
        self.label = label or self.base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                     "User-Agent": "catalog-explorer-remote"})
        self.session.trust_env = False  # no proxy or netrc credentials of the server's environment

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- plumbing

    def _get(self, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url}/api/2.0/mlflow/{path}"
        _check_destination(url)  # on every call: DNS may have changed since the remote was added
        try:
            response = self.session.get(url, params=params, timeout=settings.REMOTE_REGISTRY_TIMEOUT_SECONDS,
                                        allow_redirects=False)
        except requests.Timeout:
            raise RemoteError(f"{self.label} did not answer within {settings.REMOTE_REGISTRY_TIMEOUT_SECONDS} "
                              "seconds.") from None
        except requests.RequestException as exc:
            raise RemoteError(f"{self.label} cannot be reached ({type(exc).__name__}). Is the deployment up and "
                              "the URL right?") from None
        return self._json(response)

    def _json(self, response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        code = body.get("error_code", "") if isinstance(body, dict) else ""
        message = body.get("message", "") if isinstance(body, dict) else ""
        message = str(message)[:500]
        if response.status_code in (401, 403) and code != "PERMISSION_DENIED" or code == "UNAUTHENTICATED":
            raise RemoteError(f"{self.label} refused the token (HTTP {response.status_code}): check it has not "
                              "expired or been revoked, then remove and add the remote registry again.",
                              status=response.status_code, error_code=code)
        if code:
            raise RemoteError(f"{self.label} answered {code}: {message}", status=response.status_code,
                              error_code=code)
        raise RemoteError(f"{self.label} answered HTTP {response.status_code} without an MLflow answer: is the URL "
                          "the deployment's address?", status=response.status_code)

    # ---- registry reads

    def search_models(self, *, filter_text: str = "", page_token: str = "", max_results: int = 25) -> dict:
        params = {"max_results": min(max_results, MAX_SEARCH_PAGE)}
        if filter_text:
            params["filter"] = f"name ILIKE '%{filter_text.replace(chr(39), '')}%'"
        if page_token:
            params["page_token"] = page_token
        return self._get("registered-models/search", params)

    def get_model(self, name: str) -> dict:
        return self._get("registered-models/get", {"name": name}).get("registered_model") or {}

    def search_versions(self, name: str, *, max_results: int = MAX_VERSIONS_LISTED) -> list[dict]:
        escaped = name.replace("'", "\\'")
        body = self._get("model-versions/search", {"filter": f"name='{escaped}'", "max_results": max_results,
                                                   "order_by": "version_number DESC"})
        versions = body.get("model_versions") or []
        return sorted(versions, key=lambda v: -int(v.get("version") or 0))

    def get_version(self, name: str, version) -> dict:
        return self._get("model-versions/get", {"name": name, "version": str(version)}).get("model_version") or {}

    def get_run(self, run_id: str) -> dict | None:
        """The run's data, or None when the remote has no such run the user may read (registered from elsewhere)."""
        try:
            return self._get("runs/get", {"run_id": run_id}).get("run") or None
        except RemoteError as exc:
            if exc.not_found or exc.status in (400, 403):
                return None
            raise

    # ---- files

    def list_files(self, name: str, version) -> list[RemoteFile]:
        """Every file of the version, recursively, with its size."""
        files: list[RemoteFile] = []
        pending = [""]
        while pending:
            directory = pending.pop()
            body = self._get("model-versions/list-artifacts", {"name": name, "version": str(version),
                                                                "path": directory})
            for entry in body.get("files") or []:
                path = str(entry.get("path") or "")
                if not path:
                    continue
                if entry.get("is_dir"):
                    pending.append(path)
                else:
                    files.append(RemoteFile(path=path, size=int(entry.get("file_size") or 0)))
                if len(files) > MAX_LISTED_FILES:
                    raise RemoteError(f"The remote version has more than {MAX_LISTED_FILES} files.")
        return sorted(files, key=lambda f: f.path)

    def download(self, name: str, version, path: str) -> tuple[Iterator[bytes], dict]:
        """(chunks of the file's bytes, response headers) through a signed URL of the remote. The signed URL is
        a credential of its own: the token is not sent with it (nor along a redirect to object storage)."""
        signed = self._get("model-versions/get-signed-download-uri",
                           {"name": name, "version": str(version), "path": path})
        uri = str(signed.get("signed_uri") or "")
        if urlsplit(uri).scheme not in ("http", "https"):
            raise RemoteError(f"{self.label} gave no usable signed URL for {path}.")
        headers = {h.get("name"): h.get("value") for h in signed.get("headers") or [] if isinstance(h, dict)}
        headers = {k: v for k, v in headers.items() if k and v is not None}
        # Redirects (to object storage) are followed by hand, each hop checked like the signed URL itself.
        for _ in range(4):
            _check_destination(uri, f"The signed URL for {path} is refused: ")
            try:
                response = requests.get(uri, headers=headers, stream=True, allow_redirects=False,
                                        timeout=settings.REMOTE_REGISTRY_TIMEOUT_SECONDS)
            except requests.RequestException as exc:
                raise RemoteError(f"Downloading {path} from {self.label} failed ({type(exc).__name__}).") from None
            if response.status_code not in (301, 302, 303, 307, 308) or not response.headers.get("Location"):
                break
            uri = urljoin(uri, response.headers["Location"])
            response.close()
        if response.status_code != 200:
            response.close()
            raise RemoteError(f"Downloading {path} from {self.label} failed: HTTP {response.status_code}.",
                              status=response.status_code)
        return response.iter_content(_CHUNK), dict(response.headers)
