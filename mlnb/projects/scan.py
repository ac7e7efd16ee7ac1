"""The last check before an export is moved into place: no secrets, no absolute local paths.

Looked for in every file of the project (and inside the mlnb wheel's members):

* the value of every environment variable whose name contains TOKEN, SECRET, KEY or PASSWORD
  (values shorter than 6 characters are ignored: ``1`` or ``yes`` would match everywhere);
* Jupyter server tokens in URLs (``?token=<hex>``);
* this machine's home folder and the notebook's absolute folder (and its git root);
* credential files (:func:`credential_reason`): by name (``service-account*.json``, ``.env``,
  SSH keys, ``*.pem``/``*.key``, ``credentials``, ``.netrc``, ``.pgpass``, kubeconfig, ...) and by
  content (private key blocks, AWS/Google Cloud/Azure key formats, and secret-looking or
  high-entropy values in key/value files).

The error names the file and the kind of finding, never the secret's value. The export also
uses :func:`credential_reason` on the data files a notebook reads, before copying them: it
refuses them, or (``--reference-secrets``) leaves them out for the user to supply at run time.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from mlnb.capture.git import find_git_dir
from mlnb.errors import InvalidParameterError
from mlnb.projects.data import secret_env

SECRET_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD", re.IGNORECASE)
MIN_SECRET_LENGTH = 6
_JUPYTER_TOKEN = re.compile(rb"[?&]token=[0-9a-f]{16,}")


# (pattern on the lower-cased file name, why it is a credential file)
_CREDENTIAL_NAMES = [
    (re.compile(r"service[-_]?account.*\.json$"), "a cloud service-account key file"),
    (re.compile(r"^client_secrets?.*\.json$"), "an OAuth client secret file"),
    (re.compile(r"^\.env(\.(?!example$|sample$|template$|dist$)[\w.-]+)?$"),
     "an environment file (.env) of secrets"),
    (re.compile(r"^id_(rsa|dsa|ecdsa|ed25519)(_sk)?$"), "an SSH private key"),
    (re.compile(r"\.(pem|key|p12|pfx|jks|keystore|ppk)$"), "a private key or certificate store"),
    (re.compile(r"^credentials(\.(json|ini|csv|toml|ya?ml|txt))?$"), "a credentials file"),
    (re.compile(r"^[._]netrc$|^\.git-credentials$|^\.pypirc$|^\.npmrc$|^\.htpasswd$"),
     "a file of login credentials"),
    (re.compile(r"^\.pgpass$"), "a PostgreSQL password file (.pgpass)"),
    (re.compile(r"kubeconfig"), "a Kubernetes config (cluster credentials)"),
    (re.compile(r"^secrets?\.(json|ya?ml|toml|env|ini)$"), "a secrets file"),
]
_CREDENTIAL_CONTENT = [
    (re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "a private key block"),
    (re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), "an AWS access key id"),
    (re.compile(rb"(?i)aws_secret_access_key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{40}"),
     "an AWS secret access key"),
    (re.compile(rb"\"type\"\s*:\s*\"service_account\""), "a Google Cloud service-account key"),
    (re.compile(rb"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])"), "a Google API key"),
    (re.compile(rb"(?i)(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/=]{20,}"),
     "an Azure account key (connection string)"),
    (re.compile(rb"(?<![\w])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"), "a GitHub token"),
    (re.compile(rb"(?<![\w])xox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
]
# The files read as key/value lines (NAME=value, name: value, "name": "value").
_KEY_VALUE_SUFFIXES = frozenset({"", ".env", ".ini", ".cfg", ".conf", ".properties", ".toml", ".yaml",
                                 ".yml", ".json", ".txt"})
_KEY_VALUE_LINE = re.compile(
    r"""^\s*(?:export\s+)?["']?([A-Za-z_][\w.-]*)["']?\s*[=:]\s*["']?([^\s"',]{12,})["']?\s*,?\s*$""")
_SECRET_KEY = re.compile(r"token|secret|passw|pwd|api[-_.]?key|private[-_.]?key|access[-_.]?key|"
                         r"credential|auth", re.IGNORECASE)
HIGH_ENTROPY_BITS = 4.3  # bits per character; a hex digest has at most 4.0
_HIGH_ENTROPY_MIN_LENGTH = 24


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character.

    :param text: the text.
    """
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values()) if text else 0.0


def _key_value_secret(content: bytes) -> str | None:
    for line in content.decode("utf-8", "replace").splitlines():
        match = _KEY_VALUE_LINE.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if value.replace(".", "").replace("-", "").isdigit() or value.lower() in ("true", "false"):
            continue
        if _SECRET_KEY.search(key) and entropy(value) >= 3.0:
            return f"a secret-looking value for {key!r}"
        if len(value) >= _HIGH_ENTROPY_MIN_LENGTH and entropy(value) >= HIGH_ENTROPY_BITS \
                and "/" not in value:
            return f"a high-entropy token for {key!r}"
    return None


def credential_reason(name: str, content: bytes | None) -> str | None:
    """Why the file ``name`` (a relative path) with ``content`` is a credential file, or None.

    :param name: the file's path, relative; its last part is matched against the known
        credential file names.
    :param content: the file's bytes (None: judge by the name only).
    """
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1].lower()
    for pattern, why in _CREDENTIAL_NAMES:
        if pattern.search(base):
            return f"{why} (by its name)"
    if content is None:
        return None
    for found, why in _CREDENTIAL_CONTENT:
        if found.search(content):
            return f"{why} (in its content)"
    suffix = "." + base.rsplit(".", 1)[-1] if "." in base.lstrip(".") else ""
    if suffix in _KEY_VALUE_SUFFIXES or base.startswith(".env"):
        kind = _key_value_secret(content)
        if kind is not None:
            return f"{kind} (in its content)"
    return None


def refuse_credentials(found: dict[str, str]) -> ExportRefusedError:
    """The error for the credential files ``{relative path: reason}`` a notebook reads.

    :param found: each credential file and why it counts as one.
    """
    listed = "\n  ".join(f"{path}: {why}" for path, why in sorted(found.items()))
    variables = ", ".join(f"{secret_env(path)} for {path}" for path in sorted(found))
    return ExportRefusedError(
        "Export refused: the notebook reads credential files, which a project meant for sharing "
        f"must not carry:\n  {listed}\nExport with --reference-secrets to leave them out: the "
        "project then reads each one, at run time, from the path in an environment variable "
        f"({variables}) or from the same path inside the project folder. Nothing was written.")


class ExportRefusedError(InvalidParameterError):
    """The export would write a secret or an absolute path of this machine."""


def secret_needles(environ: dict[str, str] | None = None) -> dict[str, bytes]:
    """``{description: value}`` for the secret-looking environment variables.

    :param environ: the environment; default ``os.environ``.
    """
    env = dict(os.environ if environ is None else environ)
    return {f"the value of environment variable {name}": value.encode()
            for name, value in sorted(env.items())
            if SECRET_NAME.search(name) and len(value.strip()) >= MIN_SECRET_LENGTH}


def path_needles(folders: Iterable[Path]) -> dict[str, bytes]:
    """The absolute paths that must not appear: home, the notebook's folder, its git root.

    :param folders: the notebook's folder and its git root.
    """
    needles: dict[str, bytes] = {}
    home = str(Path.home())
    if len(home) > 1:
        needles["this machine's home folder"] = (home.rstrip("/") + "/").encode()
    for folder in folders:
        for variant in {str(folder), str(folder.resolve())}:
            needles[f"the notebook's absolute folder ({Path(variant).name})"] = variant.encode()
        git_dir = find_git_dir(folder)
        if git_dir is not None and git_dir.name == ".git":
            needles["the absolute path of the git repository"] = (str(git_dir.parent) + "/").encode()
    return needles


def _contents(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        content = path.read_bytes()
        yield name, content
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{name}!{member}", archive.read(member)


def find_leaks(root: Path, folders: Iterable[Path], environ: dict[str, str] | None = None
               ) -> list[str]:
    """Human-readable findings: ``"main.py: the value of environment variable MY_TOKEN"``.

    :param root: the project folder.
    :param folders: the notebook's folder and its git root.
    :param environ: the environment; default ``os.environ``.
    """
    needles = {**secret_needles(environ), **path_needles(folders)}
    findings = []
    for name, content in _contents(root):
        for what, needle in needles.items():
            if needle and needle in content:
                findings.append(f"{name}: {what}")
        # The wheel's members are mlnb's own package; every other file is judged.
        credential = None if "!" in name else credential_reason(name, content)
        if credential is not None:
            findings.append(f"{name}: {credential}")
        if _JUPYTER_TOKEN.search(content):
            findings.append(f"{name}: a Jupyter server token (?token=...)")
    return findings


def scan_project(root: Path, folders: Iterable[Path]) -> None:
    """Raise :class:`ExportRefusedError` listing every leak found under ``root``.

    :param root: the project folder.
    :param folders: the notebook's folder and its git root.
    """
    findings = find_leaks(root, folders)
    if findings:
        listed = "\n  ".join(findings[:20])
        raise ExportRefusedError(
            "Export refused: the project would contain\n  " + listed + "\nRemove these from the "
            "notebook's code (read secrets from the environment at run time, use paths relative "
            "to the notebook's folder) and export again. Nothing was written.")
