"""Push the Space folder (``spaces/falsereject_demo``) to the Hub, pinning the package version.

``python spaces/deploy.py --repo-id ORG/falsereject-demo [--dry-run]`` stages the folder in a
temporary directory (no caches, no hidden files), rewrites the ``falsereject`` line of its
``requirements.txt`` to ``falsereject[space,embedded]==<installed version>`` and uploads it
with ``HfApi().upload_folder`` to a ``space`` repo (created if needed, sdk gradio). The token
is read from the environment variable named by ``--token-env`` (default ``HF_TOKEN``) and is
never printed. ``--dry-run`` prints what would be uploaded and touches no network.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from falsereject.dataset import REPO_ROOT
from falsereject.errors import UserError

SPACE_DIR = REPO_ROOT / "spaces" / "falsereject_demo"
EXTRAS = "space,embedded"
_SKIP_DIRS = {"__pycache__", "outputs", ".git", ".gradio", "flagged"}
_REQ_LINE = re.compile(r"^\s*falsereject(\[[^\]]*\])?\s*([<>=!~].*)?$")


def package_version() -> str:
    """The version being released: the installed distribution's, else pyproject's."""
    try:
        return metadata.version("falsereject")
    except metadata.PackageNotFoundError:
        text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.M)
        if not match:
            raise UserError("cannot tell the falsereject version: install the package first") from None
        return match.group(1)


def pin_requirements(text: str, version: str) -> str:
    """``requirements.txt`` with its ``falsereject`` line pinned to ``version`` (added if absent)."""
    pin = f"falsereject[{EXTRAS}]=={version}"
    lines = text.splitlines()
    out, found = [], False
    for line in lines:
        code = line.split("#", 1)[0]
        if _REQ_LINE.match(code):
            out.append(pin)
            found = True
        else:
            out.append(line)
    if not found:
        out.append(pin)
    return "\n".join(out).rstrip("\n") + "\n"


def space_files(folder: Path) -> list[Path]:
    """The files to upload, relative to ``folder`` (no hidden files, caches or run outputs)."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part in _SKIP_DIRS for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in (".pyc", ".log"):
            files.append(rel)
    return files


def stage(folder: Path, version: str, dest: Path) -> list[Path]:
    """Copy the Space into ``dest`` with the pinned requirements; return the staged files."""
    if not (folder / "app.py").is_file() or not (folder / "README.md").is_file():
        raise UserError(f"{folder} is not a Space folder (it needs app.py and README.md)")
    files = space_files(folder)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, dest / rel)
    req = dest / "requirements.txt"
    req.write_text(pin_requirements(req.read_text(encoding="utf-8") if req.exists() else "", version))
    if Path("requirements.txt") not in files:
        files.append(Path("requirements.txt"))
    return files


def deploy(
    repo_id: str,
    *,
    folder: Path = SPACE_DIR,
    dry_run: bool = False,
    private: bool = False,
    token_env: str = "HF_TOKEN",
    version: str | None = None,
) -> list[Path]:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise UserError(f"--repo-id {repo_id!r}: expected ORG/NAME (the Space's id on the Hub)")
    version = version or package_version()
    with tempfile.TemporaryDirectory(prefix="falsereject-space-") as tmp:
        files = stage(Path(folder), version, Path(tmp))
        if dry_run:
            print(f"[dry run] would upload {len(files)} file(s) to the space repo {repo_id} (sdk gradio):")
            for rel in files:
                print(f"  {rel}  ({(Path(tmp) / rel).stat().st_size:,} bytes)")
            print(f"requirements pin: falsereject[{EXTRAS}]=={version}")
            return files
        token = os.environ.get(token_env)
        if not token:
            raise UserError(f"set {token_env} to a Hugging Face write token (or pass --token-env NAME)")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=tmp,
            repo_type="space",
            commit_message=f"Deploy the FalseReject demo (falsereject {version})",
        )
        print(f"uploaded {len(files)} file(s) to {repo_id}: {getattr(info, 'commit_url', '')}")
        return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Push the FalseReject Space to the Hugging Face Hub.")
    parser.add_argument("--repo-id", required=True, help="the Space's id, ORG/NAME")
    parser.add_argument("--folder", type=Path, default=SPACE_DIR, help=f"Space folder (default {SPACE_DIR})")
    parser.add_argument("--dry-run", action="store_true", help="print what would be uploaded, upload nothing")
    parser.add_argument("--private", action="store_true", help="create the Space as private")
    parser.add_argument("--token-env", default="HF_TOKEN", help="env var holding the write token")
    parser.add_argument("--version", default=None, help="package version to pin (default: installed)")
    args = parser.parse_args(argv)
    try:
        deploy(
            args.repo_id,
            folder=args.folder,
            dry_run=args.dry_run,
            private=args.private,
            token_env=args.token_env,
            version=args.version,
        )
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
